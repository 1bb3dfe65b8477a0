// The role assignments of the app's managed identity (deployed by identity.bicep).
//
// Each assignment is named guid(scope, principal id, role definition id), as in the Azure
// Functions Flex Consumption samples (Azure-Samples/functions-quickstart-*-azd, infra/app/rbac.bicep):
// the name belongs to the principal it grants. If the identity is ever deleted and recreated
// (same name and resource id, new principal id), the new principal gets new assignments. A name
// built from the identity's resource id would stay the same and point at the old assignment, and
// ARM refuses to change the principal of an existing assignment (RoleAssignmentUpdateNotPermitted).
// The old principal's assignments stay behind, orphaned, until removed (infra/README.md, Notes).
// An environment deployed before this naming has the same assignments under the old names; ARM
// refuses a second assignment of the same role to the same principal at the same scope
// (RoleAssignmentExists), so delete the old four once before redeploying (infra/README.md, Notes).

@description('Principal (object) id of the app\'s user-assigned managed identity.')
param principalId string

@description('Name of the storage account (in this resource group) the identity gets data roles on.')
param storageAccountName string

@description('Name of the Application Insights resource (in this resource group) the identity publishes telemetry to.')
param appInsightsName string

// Built-in role definition ids (the same in every tenant).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// Host storage, the deployment container and the uploads container.
resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, principalId, roles.storageBlobDataOwner)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The records, users and sessions tables.
resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, principalId, roles.storageTableDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The Functions host uses queues in AzureWebJobsStorage for its own bookkeeping.
resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, principalId, roles.storageQueueDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Entra ID-authenticated telemetry (Application Insights has local auth disabled).
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
