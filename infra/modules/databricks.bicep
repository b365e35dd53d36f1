// Optional Databricks workspace and the access connector Unity Catalog uses to reach the lake.
targetScope = 'resourceGroup'

@description('Workspace name.')
param workspaceName string

@description('Access connector name.')
param accessConnectorName string

@description('Region.')
param location string = resourceGroup().location

@description('Tags, including azd-env-name.')
param tags object = {}

@description('ADLS Gen2 account with the containers below.')
param storageAccountName string

@description('Containers the connector may read and write (external locations for Unity Catalog).')
param containerNames array

// The connector's system identity is what Unity Catalog storage credentials use: no keys.
module accessConnector 'br/public:avm/res/databricks/access-connector:0.4.3' = {
  name: 'databricks-access-connector'
  params: {
    name: accessConnectorName
    location: location
    tags: tags
    managedIdentities: {
      systemAssigned: true
    }
  }
}

// Premium: Unity Catalog and job permissions need it.
module workspace 'br/public:avm/res/databricks/workspace:0.12.0' = {
  name: 'databricks-workspace'
  params: {
    name: workspaceName
    location: location
    tags: tags
    skuName: 'premium'
  }
}

// Granted per container, not on the account: the connector never sees inbox, ledger or quarantine.
module containerAccess 'container-role-assignment.bicep' = [
  for containerName in containerNames: {
    name: 'databricks-${containerName}-access'
    params: {
      storageAccountName: storageAccountName
      containerName: containerName
      principalId: accessConnector.outputs.?systemAssignedMIPrincipalId ?? ''
      roleDefinitionId: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Contributor
    }
  }
]

output workspaceUrl string = workspace.outputs.workspaceUrl
output workspaceResourceId string = workspace.outputs.resourceId
output accessConnectorResourceId string = accessConnector.outputs.resourceId
