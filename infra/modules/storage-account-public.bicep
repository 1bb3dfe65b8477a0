// The storage account reachable over the public network: only with main.bicep's vnetEnabled=false,
// the quick-trial setup without a virtual network. A Flex Consumption app without VNet integration
// reaches storage from Azure addresses that cannot be listed in the storage firewall (and Functions
// is not a "trusted Microsoft service"), so the firewall must allow all networks. Every request
// still needs an Entra ID token: shared keys and anonymous blob access are off.
// The default deployment (vnetEnabled=true) uses storage-account-private.bicep instead; the
// account's other properties match it.

@description('Storage account name: 3-24 lowercase letters and digits, globally unique.')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object = {}

@description('Replication of the storage account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string = 'Standard_LRS'

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Deployed only with vnetEnabled=false (quick trial, no VNet): the app then has no network path to storage but the public one. The default (vnetEnabled=true) deploys storage-account-private.bicep, which passes this check; shared keys are off here too.
  // checkov:skip=CKV_AZURE_59: Same as CKV_AZURE_35: trial-only account without a VNet; the default deployment uses storage-account-private.bicep (publicNetworkAccess Disabled).
  // checkov:skip=CKV_AZURE_206: Locally redundant storage by default to keep a demo cheap; set the skuName parameter to Standard_ZRS/GRS/GZRS for replication.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

output name string = storageAccount.name
