// Log Analytics workspace and a workspace-based Application Insights resource.
// Local (instrumentation-key) authentication is off: telemetry must be sent with an
// Entra ID token, which the app gets from its managed identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING; role Monitoring Metrics Publisher in identity.bicep).

@description('Log Analytics workspace name.')
param logAnalyticsName string

@description('Application Insights name.')
param appInsightsName string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object = {}

@description('Days to keep logs in the workspace.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

// Names only: the connection string is read where it is needed (functionapp.bicep),
// never passed around as an output.
output logAnalyticsName string = logAnalytics.name
output appInsightsName string = appInsights.name
output appInsightsId string = appInsights.id
