// App Service Authentication (Easy Auth) with Microsoft Entra ID for an existing function app.
// Deployed only when main.bicep's enableEasyAuth is true (which also sets TRUST_EASY_AUTH=true).
// Easy Auth validates the caller's token and injects X-MS-CLIENT-PRINCIPAL; outside requests
// cannot set that header themselves.

@description('Name of the function app (in this resource group).')
param siteName string

@description('Client (application) id of the Entra ID app registration.')
param clientId string

@description('Tenant id of that app registration.')
param tenantId string

@description('Answer 401 to unauthenticated requests (true) or pass them to the app without a principal (false).')
param requireAuthentication bool = false

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: siteName
}

resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov applies its checks of the 'web' site config to every Microsoft.Web/sites/config resource; this one is 'authsettingsV2', which has none of those properties:
  // checkov:skip=CKV_AZURE_13: This resource is what turns authentication on; checkov looks for the V1 'properties.enabled' flag, while authsettingsV2 uses 'platform.enabled' (set below).
  // checkov:skip=CKV_AZURE_63: HTTP logging is a 'web' config setting, not an authsettingsV2 one; the app logs one line per request to Application Insights.
  // checkov:skip=CKV_AZURE_65: Detailed error messages are a 'web' config setting, not an authsettingsV2 one.
  // checkov:skip=CKV_AZURE_66: Failed request tracing is a 'web' config setting, not an authsettingsV2 one.
  // checkov:skip=CKV_AZURE_80: .NET Framework version does not apply: authsettingsV2 config of a Linux custom-handler (Rust) app.
  // checkov:skip=CKV_AZURE_88: Azure Files mounts do not apply to authsettingsV2 (and the app keeps its data in Blob and Table storage).
  // checkov:skip=CKV_AZURE_222: Public network access is a site property, not an authsettingsV2 one (see the skip on the site in functionapp.bicep).
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: requireAuthentication
      unauthenticatedClientAction: requireAuthentication ? 'Return401' : 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            clientId
            'api://${clientId}'
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}
