// Storage account for the app: the Functions host's own storage (AzureWebJobsStorage),
// the Flex Consumption deployment package, the handler's tables and its upload container.
// Access is by Microsoft Entra ID only (shared keys off); see identity.bicep for the roles.

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

@description('Days that deleted blobs and containers stay recoverable (soft delete).')
@minValue(1)
@maxValue(365)
param deleteRetentionDays int = 7

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: The Flex Consumption app reaches storage over the public endpoint (this template sets up no VNet integration); every request still needs an Entra ID token because shared keys are off.
  // checkov:skip=CKV_AZURE_59: Same reason as CKV_AZURE_35: no VNet or private endpoint here, so the public endpoint stays on; anonymous blob access and shared keys are off.
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

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storageAccount
  name: 'default'
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
