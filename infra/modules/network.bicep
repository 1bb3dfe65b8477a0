// Virtual network for main.bicep's vnetEnabled=true (the default): one subnet for the Flex
// Consumption app's outbound VNet integration, one for the storage account's private endpoints.
// Nothing in this network accepts traffic from the internet: the subnets hold only the app's
// outbound interfaces and the private endpoints. Layout as in the azd Functions quickstarts
// (e.g. Azure-Samples/functions-quickstart-python-http-azd, infra/app/vnet.bicep).
//
// Outbound to the internet (the TfL API, Entra ID token endpoints): with natGatewayEnabled (the
// default) the app subnet sends it through a NAT gateway with one static Standard public IPv4
// address, so it has an explicit path and a known source address. Without it the subnet relies on
// Azure's default outbound access, which Microsoft is retiring for new virtual networks (they
// become private subnets with no internet access unless given an explicit method such as this one).
// The NAT gateway accepts no inbound connections.

@description('Virtual network name.')
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object = {}

@description('Address space of the virtual network.')
param addressPrefix string = '10.0.0.0/16'

@description('Subnet for the function app\'s VNet integration (delegated to Microsoft.App/environments).')
param appSubnetPrefix string = '10.0.1.0/24'

@description('Subnet for the storage account\'s private endpoints.')
param privateEndpointSubnetPrefix string = '10.0.2.0/24'

@description('Give the app subnet a NAT gateway with a static public IP for its outbound internet traffic.')
param natGatewayEnabled bool = true

var appSubnetName = 'snet-app'
var privateEndpointSubnetName = 'snet-private-endpoints'

// The NAT gateway's outbound address: Standard SKU (NAT gateway takes no Basic IP), static.
resource natPublicIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = if (natGatewayEnabled) {
  name: 'pip-nat-${name}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Regional'
  }
  properties: {
    publicIPAddressVersion: 'IPv4'
    publicIPAllocationMethod: 'Static'
    idleTimeoutInMinutes: 4
  }
}

resource natGateway 'Microsoft.Network/natGateways@2024-05-01' = if (natGatewayEnabled) {
  name: 'ng-${name}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: 4
    publicIpAddresses: [
      {
        id: natPublicIp.id
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        // Flex Consumption VNet integration needs a subnet delegated to Microsoft.App/environments
        // (and the Microsoft.App resource provider registered on the subscription).
        name: appSubnetName
        properties: {
          addressPrefix: appSubnetPrefix
          // Outbound internet traffic from the app leaves through the NAT gateway (see the top).
          natGateway: natGatewayEnabled ? {
            id: natGateway.id
          } : null
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: privateEndpointSubnetName
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

output id string = vnet.id
output name string = vnet.name
output appSubnetId string = '${vnet.id}/subnets/${appSubnetName}'
output privateEndpointSubnetId string = '${vnet.id}/subnets/${privateEndpointSubnetName}'
// The app's outbound internet address (empty without the NAT gateway): give it to services that allow-list callers.
output natPublicIpAddress string = natGatewayEnabled ? natPublicIp.properties.ipAddress : ''
