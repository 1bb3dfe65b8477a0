// The storage account with no public network path: main.bicep's default (vnetEnabled=true).
// Public network access is Disabled, so every request to blob, queue and table must arrive through
// the private endpoints in storage-private-endpoints.bicep; the firewall's default action is Deny
// as well, so nothing opens up if someone switches public access back to "selected networks".
// This is what the azd Flex Consumption quickstarts do with vnetEnabled (publicNetworkAccess
// 'Disabled', networkAcls.defaultAction 'Deny'; Azure-Samples/functions-quickstart-python-http-azd,
// infra/main.bicep), which deploy their code to it through the same One Deploy endpoint
// (/api/publish on the app's SCM site) that CI uses: the runner never talks to storage; the
// platform writes the package into the 'deployments' container as the app's identity, and the app
// reads it at start through the VNet. (Not tried against a live subscription from this repository;
// see infra/README.md, "Network", if an upload fails.)
// The account's other properties match storage-account-public.bicep.

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
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      // With public network access Disabled, neither IP rules nor the trusted-services bypass
      // apply; AzureServices only matters if public access is later set to "selected networks"
      // (e.g. to add your IP for debugging, infra/README.md), and then only for trusted services.
      bypass: 'AzureServices'
      defaultAction: 'Deny'
      ipRules: []
      virtualNetworkRules: []
    }
  }
}

output name string = storageAccount.name
