// One role on one blob container: least privilege for principals that need a single container.
targetScope = 'resourceGroup'

@description('Storage account that holds the container.')
param storageAccountName string

@description('Container the role is granted on.')
param containerName string

@description('Object id of the principal (a module param, so the assignment name is known at deployment start).')
param principalId string

@description('GUID of the built-in role definition.')
param roleDefinitionId string

@allowed([
  'ServicePrincipal'
  'User'
  'Group'
])
@description('Kind of principalId.')
param principalType string = 'ServicePrincipal'

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource container 'containers' existing = {
      name: containerName
    }
  }
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account::blobService::container.id, principalId, roleDefinitionId)
  scope: account::blobService::container
  properties: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
  }
}

output roleAssignmentId string = assignment.id
