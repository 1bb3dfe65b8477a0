// Private endpoints for the storage account's blob, queue and table services, each with its
// private DNS zone (privatelink.<service>.core.windows.net in the public cloud) linked to the
// virtual network. Inside the VNet, <account>.<service>.core.windows.net then resolves to the
// endpoint's private address, so the app keeps using the usual host names (AzureWebJobsStorage__*,
// STORAGE_ACCOUNT_NAME) while its traffic never leaves the VNet.
// Deployed by main.bicep when vnetEnabled is true (the default). Same resources as the azd Functions
// quickstarts' infra/app/storage-PrivateEndpoint.bicep (Azure-Samples/functions-quickstart-*-azd).

@description('Storage account (in this resource group) the endpoints connect to.')
param storageAccountName string

@description('Azure region of the endpoints (the virtual network\'s).')
param location string

@description('Tags for every resource.')
param tags object = {}

@description('Resource id of the virtual network the DNS zones are linked to.')
param vnetId string

@description('Name of that virtual network (part of the DNS link names).')
param vnetName string

@description('Resource id of the subnet that holds the endpoints.')
param subnetId string

// blob: host storage, the deployment package, uploads; queue: the Functions host's own queues;
// table: the records, users and sessions tables. (file is not used: Flex Consumption has no content share.)
var services = [
  'blob'
  'queue'
  'table'
]

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource dnsZones 'Microsoft.Network/privateDnsZones@2020-06-01' = [for service in services: {
  name: 'privatelink.${service}.${environment().suffixes.storage}'
  location: 'global'
  tags: tags
}]

resource dnsZoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (service, i) in services: {
  parent: dnsZones[i]
  name: 'link-${vnetName}'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnetId
    }
  }
}]

resource endpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [for service in services: {
  name: 'pe-${storageAccountName}-${service}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: 'storage-${service}'
        properties: {
          privateLinkServiceId: storageAccount.id
          groupIds: [
            service
          ]
        }
      }
    ]
  }
}]

// Registers each endpoint's private address as an A record in its zone.
resource dnsZoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (service, i) in services: {
  parent: endpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'privatelink-${service}'
        properties: {
          privateDnsZoneId: dnsZones[i].id
        }
      }
    ]
  }
}]
