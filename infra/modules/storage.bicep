// Storage account for the app: the Functions host's own storage (AzureWebJobsStorage),
// the Flex Consumption deployment package, the handler's tables and its upload container.
// Access is by Microsoft Entra ID only (shared keys off); see identity.bicep for the roles.
// The account itself is declared in one of two files, so that each states its network rules as
// literals (checkov checks them as written):
//   privateNetworkOnly=true  (main.bicep's default, vnetEnabled=true): storage-account-private.bicep,
//                            public network access Disabled, reached through private endpoints only;
//   privateNetworkOnly=false (vnetEnabled=false, quick trial): storage-account-public.bicep.

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

@description('Days that deleted blobs and containers stay recoverable (soft delete). Also how long an erased user\'s files can still be restored by an administrator of the account (README, Account security).')
@minValue(1)
@maxValue(365)
param deleteRetentionDays int = 7

@description('true: no public network path (private endpoints only); false: public endpoint open to all networks (Entra ID still required).')
param privateNetworkOnly bool = true

module privateAccount 'storage-account-private.bicep' = if (privateNetworkOnly) {
  name: 'storage-account-private'
  params: {
    name: name
    location: location
    tags: tags
    skuName: skuName
  }
}

module publicAccount 'storage-account-public.bicep' = if (!privateNetworkOnly) {
  name: 'storage-account-public'
  params: {
    name: name
    location: location
    tags: tags
    skuName: skuName
  }
}

// Whichever of the two was deployed; the services below depend on both modules.
resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: name
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storageAccount
  name: 'default'
  dependsOn: [
    privateAccount
    publicAccount
  ]
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: deleteRetentionDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: deleteRetentionDays
    }
  }
}

// The Flex Consumption deployment package (functionAppConfig.deployment.storage).
resource deploymentsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'deployments'
  properties: {
    publicAccess: 'None'
  }
}

// Files uploaded through /api/upload (UPLOADS_CONTAINER).
resource uploadsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'uploads'
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storageAccount
  name: 'default'
  dependsOn: [
    privateAccount
    publicAccount
  ]
}

// The records table (RECORDS_TABLE).
resource recordsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: 'records'
}

// User accounts (USERS_TABLE).
resource usersTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: 'users'
}

// Bearer-token sessions, stored as SHA-256 hashes (SESSIONS_TABLE).
resource sessionsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: 'sessions'
}

output name string = storageAccount.name
output id string = storageAccount.id
output blobEndpoint string = storageAccount.properties.primaryEndpoints.blob
output deploymentsContainerName string = deploymentsContainer.name
output uploadsContainerName string = uploadsContainer.name
output recordsTableName string = recordsTable.name
output usersTableName string = usersTable.name
output sessionsTableName string = sessionsTable.name
