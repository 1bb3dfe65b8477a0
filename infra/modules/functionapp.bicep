// Flex Consumption plan (FC1) and the Linux function app that runs the Rust custom handler.
// The runtime comes from functionAppConfig.runtime (runtimeName / runtimeVersion, chosen in
// main.bicep; host.json's customHandler section makes the host run the handler under any of
// them); on Flex Consumption the FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION app
// settings are rejected, so they are not set here (tests/api/infra_drift.rs checks this).

@description('Function app name (also the first label of its default hostname).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object = {}

@description('Resource id of the user-assigned managed identity the app runs as.')
param identityId string

@description('Client id of that identity (DefaultAzureCredential / ManagedIdentityCredential pick it with AZURE_CLIENT_ID).')
param identityClientId string

@description('Storage account holding host storage, the deployment package, the tables and the uploads.')
param storageAccountName string

@description('Primary blob endpoint of that account, with its trailing slash.')
param storageBlobEndpoint string

@description('Blob container holding the Flex Consumption deployment package.')
param deploymentsContainerName string

@description('Blob container for uploads (UPLOADS_CONTAINER).')
param uploadsContainerName string

@description('Table for records (RECORDS_TABLE).')
param recordsTableName string

@description('Table for user accounts (USERS_TABLE).')
param usersTableName string

@description('Table for sessions (SESSIONS_TABLE).')
param sessionsTableName string

@description('Application Insights resource (in this resource group) the app sends telemetry to.')
param appInsightsName string

@description('Flex Consumption runtime name (functionAppConfig.runtime.name); main.bicep explains the default.')
param runtimeName string

@description('Flex Consumption runtime version, as the region\'s catalog spells it.')
param runtimeVersion string

@description('Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 512

@description('Upper bound of instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@secure()
@description('TfL Unified API app key (TFL_APP_KEY); empty to call TfL anonymously.')
param tflAppKey string = ''

@description('Turn on App Service Authentication (Easy Auth) with Microsoft Entra ID.')
param enableEasyAuth bool = false

@description('Client (application) id of the Entra ID app registration used by Easy Auth.')
param easyAuthClientId string = ''

@description('Tenant id of that app registration.')
param easyAuthTenantId string = tenant().tenantId

@description('When Easy Auth is on: reject unauthenticated requests with 401 (true), or let them through to the handler, which then sees no principal (false).')
param easyAuthRequireAuthentication bool = false

@description('Resource id of the subnet (delegated to Microsoft.App/environments) for outbound VNet integration; empty for none.')
param virtualNetworkSubnetId string = ''

@description('CIDR ranges allowed to call the app (e.g. [\'203.0.113.0/24\']); empty: open to every address.')
param allowedIpRanges array = []

@description('CIDR ranges allowed on the SCM (Kudu) site, which deployments use; empty: open to every address (callers still need an Entra ID token with rights on the app).')
param allowedScmIpRanges array = []

// Access restrictions: each allowed range, then an explicit final deny-all (the platform's default
// action is set to Deny too). With no ranges the list is empty and the app answers every address;
// function keys, bearer tokens and Easy Auth still apply.
var ipAllowRules = [for (cidr, i) in allowedIpRanges: {
  name: 'allow-${i}'
  description: 'From allowedIpRanges'
  ipAddress: cidr
  action: 'Allow'
  priority: 100 + i
}]
var scmIpAllowRules = [for (cidr, i) in allowedScmIpRanges: {
  name: 'allow-${i}'
  description: 'From allowedScmIpRanges'
  ipAddress: cidr
  action: 'Allow'
  priority: 100 + i
}]
var denyAllRule = {
  name: 'deny-all'
  description: 'Everything not allowed above'
  ipAddress: 'Any'
  action: 'Deny'
  priority: 65000
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Zone redundancy on Flex Consumption is offered only in some regions and needs zone-redundant storage; off for this single-region, LRS-by-default deployment.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: A public HTTP API must keep public network access Enabled (Disabled would leave only private endpoints, and break clients and CI's smoke test). Inbound is narrowed instead by ipSecurityRestrictions (allowedIpRanges + final deny-all) and authenticated by function keys, bearer tokens and optional Easy Auth.
  // checkov:skip=CKV_AZURE_17: Callers are browsers and scripts without client certificates; authentication is by function keys, bearer tokens and optionally Easy Auth.
  // checkov:skip=CKV_AZURE_212: numberOfWorkers does not apply to Flex Consumption, where the platform scales instances per demand up to maximumInstanceCount.
  // checkov:skip=CKV_AZURE_213: App Service health check (healthCheckPath) is not used on Flex Consumption here; the Functions host itself probes the handler (GET /) before routing to it.
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    clientAffinityEnabled: false
    // Outbound VNet integration (vnetEnabled=true): the app reaches storage through the private
    // endpoints in that VNet; null leaves the app without VNet integration (vnetEnabled=false).
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      ipSecurityRestrictionsDefaultAction: empty(allowedIpRanges) ? 'Allow' : 'Deny'
      ipSecurityRestrictions: empty(allowedIpRanges) ? [] : concat(ipAllowRules, [
        denyAllRule
      ])
      // The SCM site (Kudu: /api/publish for One Deploy) keeps its own rules, so an allow-list for
      // callers does not lock out CI; it only accepts Entra ID tokens (basic auth is off below).
      scmIpSecurityRestrictionsUseMain: false
      scmIpSecurityRestrictionsDefaultAction: empty(allowedScmIpRanges) ? 'Allow' : 'Deny'
      scmIpSecurityRestrictions: empty(allowedScmIpRanges) ? [] : concat(scmIpAllowRules, [
        denyAllRule
      ])
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        // Host storage through the managed identity (no connection string, no key).
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storageAccountName
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        // Telemetry, authenticated with Entra ID (local auth is off on Application Insights).
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        // The handler's own settings (handler/config.rs).
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'STORAGE_ACCOUNT_NAME'
          value: storageAccountName
        }
        {
          name: 'RECORDS_TABLE'
          value: recordsTableName
        }
        {
          name: 'USERS_TABLE'
          value: usersTableName
        }
        {
          name: 'SESSIONS_TABLE'
          value: sessionsTableName
        }
        {
          name: 'UPLOADS_CONTAINER'
          value: uploadsContainerName
        }
        {
          name: 'TFL_APP_KEY'
          value: tflAppKey
        }
        {
          name: 'TRUST_EASY_AUTH'
          value: enableEasyAuth ? 'true' : 'false'
        }
        {
          name: 'LOG_FORMAT'
          value: 'json'
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentsContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: runtimeName
        version: runtimeVersion
      }
    }
  }
}

// Deployments go through Entra ID (azure/login + functions-action, or az with RBAC):
// no FTP or SCM basic-auth publishing credentials.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

// Optional App Service Authentication (Easy Auth) with Microsoft Entra ID. It validates the
// caller's token and injects X-MS-CLIENT-PRINCIPAL, which the handler trusts only when
// TRUST_EASY_AUTH is 'true' (set above from the same parameter).
module easyAuth 'easyauth.bicep' = if (enableEasyAuth) {
  name: 'easyauth'
  params: {
    siteName: site.name
    clientId: easyAuthClientId
    tenantId: easyAuthTenantId
    requireAuthentication: easyAuthRequireAuthentication
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
