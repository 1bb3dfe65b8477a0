// The app's user-assigned managed identity, and (role-assignments.bicep) its role assignments.
// The app uses it for the Functions host storage (AzureWebJobsStorage__*), the Flex
// deployment package, the handler's tables and blobs, and Application Insights ingestion.

@description('User-assigned managed identity name.')
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object = {}

@description('Name of the storage account (in this resource group) the identity gets data roles on.')
param storageAccountName string

@description('Name of the Application Insights resource (in this resource group) the identity publishes telemetry to.')
param appInsightsName string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

// The role assignments live in their own module so that their names can be built from the
// identity's principal id: a module parameter is known when the module starts, while
// identity.properties.principalId used directly in a resource name is not (Bicep BCP120).
module roleAssignments 'role-assignments.bicep' = {
  name: 'role-assignments'
  params: {
    principalId: identity.properties.principalId
    storageAccountName: storageAccountName
    appInsightsName: appInsightsName
  }
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
