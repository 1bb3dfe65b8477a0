// Azure resources for the Rust custom handler on Azure Functions (Flex Consumption).
// Deploy into an existing resource group:
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json -p environmentName=<env>
// See infra/README.md for the prerequisites and the GitHub Actions setup.
targetScope = 'resourceGroup'

@description('Short environment name (dev, test, prod...): letters, digits and hyphens; part of every resource name.')
@minLength(1)
@maxLength(20)
param environmentName string

@description('Azure region of every resource; defaults to the resource group\'s.')
param location string = resourceGroup().location

@description('Memory of each Flex Consumption instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 512

@description('Upper bound of Flex Consumption instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

// The Flex Consumption runtime stack: functionAppConfig.runtime. The Functions host runs our
// handler because host.json has a `customHandler` section; whenever that section is present the
// host dispatches every invocation to the custom handler whatever the runtime name says
// (azure-functions-host, FunctionInvocationDispatcherFactory), and the handler is a static musl
// binary that needs nothing from the stack's image. The runtime only has to be one that the
// region's Flex catalog offers: ARM accepts a name or version missing from the catalog, and the
// app then fails at host start with nothing pointing at the cause (Azure/Azure-Functions#2666).
// Default node 22, because it is what Microsoft's own custom-handler samples on Flex Consumption
// use (Azure-Samples/mcp-sdk-functions-hosting-node: runtime node 22 + host.json customHandler),
// and Node.js is a documented Flex language stack (flex-consumption-plan, "Supported language
// stack versions"), so it is the pair most likely to be in a region's catalog.
// 'custom' / '1.0' is in the Flex stacks API in some regions (Az.Functions'
// Get-AzFunctionAppFlexConsumptionRuntime example for East Asia; microsoft/vscode-azurefunctions#4596)
// but is missing from the documented support table, the Flex migration guide lists custom handlers
// as not supported, none of the Azure-Samples Flex quickstarts uses it, and Core Tools users could not create such an
// app (Azure/azure-functions-core-tools#4642). Switch with -p functionAppRuntime=custom
// -p functionAppRuntimeVersion=1.0 where the catalog lists it (infra/README.md, "Runtime").
// deploy.yml checks the pair against the region's catalog before deploying. The catalog gives
// node 22 an end-of-life date in April 2027: move to the next Node version it offers before then.
@description('Flex Consumption runtime name (functionAppConfig.runtime.name): must be offered by `az functionapp list-flexconsumption-runtimes --location <region>`. The handler runs as a custom handler (host.json) under any of them.')
@allowed([
  'node'
  'custom'
  'dotnet-isolated'
  'python'
  'java'
  'powershell'
])
param functionAppRuntime string = 'node'

@description('Runtime version (functionAppConfig.runtime.version), exactly as the region\'s Flex catalog spells it (e.g. \'22\' for node, \'1.0\' for custom).')
param functionAppRuntimeVersion string = '22'

@description('Replication of the storage account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSkuName string = 'Standard_LRS'

@secure()
@description('TfL Unified API app key (app setting TFL_APP_KEY); leave empty to call TfL anonymously.')
param tflAppKey string = ''

@description('Turn on App Service Authentication (Easy Auth) with Microsoft Entra ID; also sets TRUST_EASY_AUTH=true.')
param enableEasyAuth bool = false

@description('Client (application) id of the Entra ID app registration for Easy Auth (required when enableEasyAuth is true).')
param easyAuthClientId string = ''

@description('Tenant id of the Easy Auth app registration; defaults to the deployment\'s tenant.')
param easyAuthTenantId string = tenant().tenantId

@description('With Easy Auth on: answer 401 to every unauthenticated request (true) or pass them to the handler without a principal (false).')
param easyAuthRequireAuthentication bool = false

@description('Deny by default: a virtual network with private endpoints for storage (blob, queue, table), the storage account\'s public network access Disabled, and the app\'s outbound traffic through the VNet. false: the simpler public-network setup for a quick trial (see infra/README.md for what each costs and protects).')
param vnetEnabled bool = true

@description('With vnetEnabled: send the app\'s outbound internet traffic through a NAT gateway with a static public IP (a defined outbound path and a known source address; billed per hour and per GB, see infra/README.md). Ignored with vnetEnabled=false.')
param natGatewayEnabled bool = true

@description('CIDR ranges allowed to call the function app, e.g. [\'203.0.113.0/24\']; followed by a deny-all. Empty (default): open to every address.')
param allowedIpRanges array = []

@description('CIDR ranges allowed on the app\'s SCM (Kudu) site, where deployments are uploaded; empty (default): open, with Entra ID sign-in required.')
param allowedScmIpRanges array = []

@description('Tags for every resource.')
param tags object = {}

var resourceToken = uniqueString(subscription().id, resourceGroup().id, environmentName)
var allTags = union(tags, {
  'environment-name': environmentName
  application: 'rust-functions-handler'
})

var env = toLower(environmentName)
var names = {
  storage: 'st${resourceToken}'
  logAnalytics: 'log-${env}-${resourceToken}'
  appInsights: 'appi-${env}-${resourceToken}'
  identity: 'id-${env}-${resourceToken}'
  plan: 'plan-${env}-${resourceToken}'
  app: 'func-${env}-${resourceToken}'
  vnet: 'vnet-${env}-${resourceToken}'
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: allTags
    skuName: storageSkuName
    // vnetEnabled=true: public network access Disabled (storage-account-private.bicep).
    privateNetworkOnly: vnetEnabled
  }
}

// With vnetEnabled (the default): the VNet (with natGatewayEnabled, also the default: a NAT
// gateway and static public IP for the app subnet's outbound internet traffic), and private
// endpoints + private DNS zones for the storage account's blob, queue and table services. The app
// joins the VNet below.
module network 'modules/network.bicep' = if (vnetEnabled) {
  name: 'network'
  params: {
    name: names.vnet
    location: location
    tags: allTags
    natGatewayEnabled: natGatewayEnabled
  }
}

module storagePrivateEndpoints 'modules/storage-private-endpoints.bicep' = if (vnetEnabled) {
  name: 'storage-private-endpoints'
  params: {
    storageAccountName: storage.outputs.name
    location: location
    tags: allTags
    vnetId: network.outputs.id
    vnetName: network.outputs.name
    subnetId: network.outputs.privateEndpointSubnetId
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    location: location
    tags: allTags
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: names.identity
    location: location
    tags: allTags
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

// Depends on the identity module as a whole (through its outputs), so the role
// assignments exist before the app first starts; with vnetEnabled, likewise on the private
// endpoints and their DNS records, its only way to storage.
module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  dependsOn: [
    storagePrivateEndpoints
  ]
  params: {
    name: names.app
    planName: names.plan
    location: location
    tags: allTags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentsContainerName: storage.outputs.deploymentsContainerName
    uploadsContainerName: storage.outputs.uploadsContainerName
    recordsTableName: storage.outputs.recordsTableName
    usersTableName: storage.outputs.usersTableName
    sessionsTableName: storage.outputs.sessionsTableName
    appInsightsName: monitoring.outputs.appInsightsName
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    runtimeName: functionAppRuntime
    runtimeVersion: functionAppRuntimeVersion
    tflAppKey: tflAppKey
    enableEasyAuth: enableEasyAuth
    easyAuthClientId: easyAuthClientId
    easyAuthTenantId: easyAuthTenantId
    easyAuthRequireAuthentication: easyAuthRequireAuthentication
    virtualNetworkSubnetId: vnetEnabled ? network.outputs.appSubnetId : ''
    allowedIpRanges: allowedIpRanges
    allowedScmIpRanges: allowedScmIpRanges
  }
}

// Names only: no keys, no connection strings.
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostName
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
// For deploy.yml's wait for role propagation: the principal the app runs as, and the container
// the platform writes the deployment package to as that principal.
output AZURE_APP_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_DEPLOYMENT_CONTAINER_NAME string = storage.outputs.deploymentsContainerName
// The app's outbound internet address with the NAT gateway; empty without it (or without the VNet).
output AZURE_OUTBOUND_IP_ADDRESS string = vnetEnabled && natGatewayEnabled ? network.outputs.natPublicIpAddress : ''
