// insightloop on Azure: Functions (Flex Consumption) + ADLS Gen2 + Service Bus + Azure OpenAI +
// Key Vault + Application Insights, optionally Databricks. Identity only: no keys, no
// connection strings. Deploy with `azd up`; see docs/operate.md.
targetScope = 'subscription'

// ------------------------------------------------------------------ parameters

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; seeds the resource token and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Region for every resource except Azure OpenAI (must offer Flex Consumption).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the person or pipeline running azd; gets data-plane roles to operate the app. Empty: none.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Kind of principalId.')
param principalType string = 'User'

@description('Override: resource group name.')
param resourceGroupName string = ''

@description('Override: function app name.')
param functionAppName string = ''

@description('Override: user-assigned identity name.')
param identityName string = ''

@description('Override: storage account of the Functions host (AzureWebJobsStorage, deployment package).')
param hostStorageAccountName string = ''

@description('Override: ADLS Gen2 data account (inbox, landing, quarantine, exports, ledger, outbox).')
param dataStorageAccountName string = ''

@description('Override: Service Bus namespace name.')
param serviceBusNamespaceName string = ''

@description('Override: Azure OpenAI account name (also its custom subdomain).')
param openAiAccountName string = ''

@description('Override: Key Vault name.')
param keyVaultName string = ''

@description('Override: Log Analytics workspace name.')
param logAnalyticsName string = ''

@description('Override: Application Insights name.')
param applicationInsightsName string = ''

@minValue(1)
@description('Days raw exports stay in the inbox container before the lifecycle rule deletes them.')
param inboxRetentionDays int = 30

@minValue(30)
@maxValue(730)
@description('Days Log Analytics keeps telemetry.')
param logRetentionDays int = 30

@minLength(6)
@description('Service Bus queue the ingest_events trigger binds to (INSIGHTLOOP_FEEDBACK_QUEUE).')
param feedbackQueueName string = 'feedback'

@description('Service Bus queue of classify work items (INSIGHTLOOP_CLASSIFY_QUEUE): ingest sends, classify_batches reads.')
param classifyQueueName string = 'classify'

@description('Also give the identity Azure Service Bus Data Owner on the feedback queue, so scaling reads the true backlog.')
param serviceBusScaleByMessageCount bool = true

@minValue(1)
@maxValue(1000)
@description('Flex Consumption instance cap; bounds concurrent model calls against the deployment quota.')
param maximumInstanceCount int = 10

@allowed([
  512
  2048
  4096
])
@description('Memory per instance; the PII and language engines take ~510 MiB per worker process.')
param instanceMemoryMB int = 2048

@description('Region of the Azure OpenAI account; empty: location. Pick one that offers the model.')
param openAiLocation string = ''

@description('Azure OpenAI deployment name (INSIGHTLOOP_AZURE_OPENAI_DEPLOYMENT; prices key it in eval/prices.yaml).')
param openAiDeploymentName string = 'gpt-4o-mini'

@description('Model behind the deployment.')
param openAiModelName string = 'gpt-4o-mini'

@description('Model version.')
param openAiModelVersion string = '2024-07-18'

@allowed([
  'GlobalStandard'
  'DataZoneStandard'
  'Standard'
])
@description('Deployment SKU.')
param openAiDeploymentSku string = 'GlobalStandard'

@minValue(1)
@description('Deployment capacity in thousands of tokens per minute.')
param openAiDeploymentCapacity int = 50

@description('Azure OpenAI REST API version the app calls; structured outputs need 2024-08-01 or later.')
param openAiApiVersion string = '2024-10-21'

@description('NCRONTAB schedule of refresh_gold (INSIGHTLOOP_GOLD_SCHEDULE).')
param goldSchedule string = '0 */30 * * * *'

@description('Job id of the bundle\'s Gold job, known after `databricks bundle deploy`; empty: unset.')
param goldJobId string = ''

@description('Create a Databricks workspace and access connector with access to the landing and exports containers.')
param deployDatabricks bool = false

@description('URL of an existing workspace when deployDatabricks is false; empty: unset.')
param databricksHost string = ''

@description('SQL warehouse the remote MCP tools (ask_*) query Gold on (`databricks warehouses list`); empty: unset.')
param databricksWarehouseId string = ''

@description('Unity Catalog catalog of the Gold tables (the bundle\'s catalog variable).')
param databricksCatalog string = 'main'

@description('Schema of the Gold tables (the bundle\'s schema variable; prod target).')
param databricksSchema string = 'insightloop'

@description('Base URL tickets link insights to (INSIGHTLOOP_ROUTING_LINK_BASE_URL); empty: unset.')
param routingLinkBaseUrl string = ''

@description('Jira Cloud site, e.g. https://<site>.atlassian.net; empty: Jira routes go to the outbox.')
param jiraBaseUrl string = ''

@description('Account of the Jira API token (Key Vault secret jira-api-token).')
param jiraEmail string = ''

@description('ServiceNow instance, e.g. https://<instance>.service-now.com; empty: outbox.')
param servicenowInstanceUrl string = ''

@description('ServiceNow user of the password in Key Vault secret servicenow-password.')
param servicenowUsername string = ''

@description('Send Slack messages with the bot token in Key Vault secret slack-bot-token; false: outbox.')
param enableSlack bool = false

@description('Post Teams cards with the webhook URLs in Key Vault secrets teams-webhook-<name>; false: outbox.')
param enableTeams bool = false

@description('Key Vault purge protection; keep false for throwaway azd environments (azd down --purge).')
param keyVaultPurgeProtection bool = false

@description('More app settings (tuning knobs such as INSIGHTLOOP_CLASSIFY_BATCH_SIZE); the settings below win on a clash.')
param extraAppSettings object = {}

// ------------------------------------------------------------------ names

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var serviceName = 'functions'

var appName = !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}${resourceToken}'
var hostStorageName = !empty(hostStorageAccountName)
  ? hostStorageAccountName
  : '${abbrs.storageStorageAccounts}${resourceToken}'
var dataStorageName = !empty(dataStorageAccountName)
  ? dataStorageAccountName
  : '${abbrs.storageStorageAccounts}dl${resourceToken}'
var openAiName = !empty(openAiAccountName) ? openAiAccountName : '${abbrs.cognitiveServicesAccounts}${resourceToken}'
var vaultName = !empty(keyVaultName) ? keyVaultName : '${abbrs.keyVaultVaults}${resourceToken}'
// The classify queue's deliveries; the app reads the same number (INSIGHTLOOP_CLASSIFY_MAX_DELIVERIES).
var classifyMaxDeliveries = 10
var deploymentContainerName = 'app-package-${take(appName, 32)}-${take(resourceToken, 7)}'

// Container names the app settings and the Event Grid hook share.
var containers = {
  inbox: 'inbox'
  landing: 'landing'
  quarantine: 'quarantine'
  exports: 'exports'
  ledger: 'ledger'
  outbox: 'outbox'
  deadLetter: 'deadletter'
}

// Built-in role definition GUIDs (full ids below, so every AVM version takes them as-is).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  cognitiveServicesOpenAiUser: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// ------------------------------------------------------------------ resource group, identity

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// One user-assigned identity for every connection, so roles exist before the app starts.
module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'identity'
  scope: rg
  params: {
    name: !empty(identityName) ? identityName : '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

// ------------------------------------------------------------------ monitoring

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.13.0' = {
  name: 'log-analytics'
  scope: rg
  params: {
    name: !empty(logAnalyticsName) ? logAnalyticsName : '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    location: location
    tags: tags
    dataRetention: logRetentionDays
  }
}

// Local auth off: ingestion needs an Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
module appInsights 'br/public:avm/res/insights/component:0.7.1' = {
  name: 'app-insights'
  scope: rg
  params: {
    name: !empty(applicationInsightsName) ? applicationInsightsName : '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    disableLocalAuth: true
    roleAssignments: [
      {
        principalId: identity.outputs.principalId
        principalType: 'ServicePrincipal'
        roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
      }
    ]
  }
}

// ------------------------------------------------------------------ storage

// The Functions host's own account: AzureWebJobsStorage and the Flex deployment package.
module hostStorage 'br/public:avm/res/storage/storage-account:0.31.0' = {
  name: 'host-storage'
  scope: rg
  params: {
    name: hostStorageName
    location: location
    tags: tags
    kind: 'StorageV2'
    skuName: 'Standard_LRS'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: [
        { name: deploymentContainerName }
      ]
    }
    roleAssignments: [
      {
        principalId: identity.outputs.principalId
        principalType: 'ServicePrincipal'
        roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
      }
      // The Event Grid blob trigger queues its work items in the host account.
      {
        principalId: identity.outputs.principalId
        principalType: 'ServicePrincipal'
        roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
      }
      // The host writes diagnostic events to table storage.
      {
        principalId: identity.outputs.principalId
        principalType: 'ServicePrincipal'
        roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
      }
    ]
  }
}

// The data lake: HNS for Auto Loader and Unity Catalog, Entra-only access.
module dataStorage 'br/public:avm/res/storage/storage-account:0.31.0' = {
  name: 'data-storage'
  scope: rg
  params: {
    name: dataStorageName
    location: location
    tags: tags
    kind: 'StorageV2'
    skuName: 'Standard_LRS'
    enableHierarchicalNamespace: true
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      deleteRetentionPolicyEnabled: true
      deleteRetentionPolicyDays: 7
      containerDeleteRetentionPolicyEnabled: true
      containerDeleteRetentionPolicyDays: 7
      containers: [for container in items(containers): { name: container.value }]
    }
    managementPolicyRules: [
      {
        enabled: true
        name: 'delete-raw-inbox'
        type: 'Lifecycle'
        definition: {
          actions: {
            baseBlob: {
              // Raw exports hold unmasked PII; landed rows are masked, so raw files need not outlive replays.
              delete: {
                daysAfterModificationGreaterThan: inboxRetentionDays
              }
            }
          }
          filters: {
            blobTypes: [
              'blockBlob'
            ]
            prefixMatch: [
              '${containers.inbox}/'
            ]
          }
        }
      }
    ]
    roleAssignments: concat(
      [
        {
          principalId: identity.outputs.principalId
          principalType: 'ServicePrincipal'
          roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
        }
        // Blob triggers keep their poison queue in the connection's account.
        {
          principalId: identity.outputs.principalId
          principalType: 'ServicePrincipal'
          roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
        }
      ],
      empty(principalId)
        ? []
        : [
            // Operators upload to the inbox and inspect quarantine and dead letters.
            {
              principalId: principalId
              principalType: principalType
              roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
            }
            {
              principalId: principalId
              principalType: principalType
              roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
            }
          ]
    )
  }
}

// Flex blob triggers use the Event Grid source; the subscriptions need the app's blobs_extension
// key, so infra/hooks/postdeploy.sh creates them after the code is deployed.
module eventGridTopic 'br/public:avm/res/event-grid/system-topic:0.6.4' = {
  name: 'event-grid-topic'
  scope: rg
  params: {
    name: '${abbrs.eventGridSystemTopics}${resourceToken}'
    location: location
    tags: tags
    source: dataStorage.outputs.resourceId
    topicType: 'Microsoft.Storage.StorageAccounts'
    // Dead letters are written with the topic's own identity: the account takes no keys.
    managedIdentities: {
      systemAssigned: true
    }
    diagnosticSettings: [
      {
        workspaceResourceId: logAnalytics.outputs.resourceId
      }
    ]
  }
}

module deadLetterAccess 'modules/container-role-assignment.bicep' = {
  name: 'event-grid-dead-letter-access'
  scope: rg
  params: {
    storageAccountName: dataStorage.outputs.name
    containerName: containers.deadLetter
    principalId: eventGridTopic.outputs.?systemAssignedMIPrincipalId ?? ''
    roleDefinitionId: roles.storageBlobDataContributor
  }
}

// ------------------------------------------------------------------ Service Bus

// Sizing for the batch trigger (docs/operate.md#service-bus-batches): a batch trigger gets no lock
// renewal, so the lock is the maximum (5 min) and host.json maxMessageBatchSize is 50, whose p99 is
// ~91 s: 50 records x ~15 ms enrichment (11 ms measured + 50% busy host, docs/benchmarks.md) = 0.8 s,
// plus 2 model requests of 25 records x 30 s p99, plus one 30 s Retry-After on a 429;
// that stays under half the lock (150 s), so a slow batch is finished before its messages reappear.
module serviceBus 'br/public:avm/res/service-bus/namespace:0.16.1' = {
  name: 'service-bus'
  scope: rg
  params: {
    name: !empty(serviceBusNamespaceName) ? serviceBusNamespaceName : '${abbrs.serviceBusNamespaces}${resourceToken}'
    location: location
    tags: tags
    skuObject: {
      name: 'Standard'
    }
    // Zone redundancy needs Premium; Standard is enough for this volume.
    zoneRedundant: false
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    diagnosticSettings: [
      {
        workspaceResourceId: logAnalytics.outputs.resourceId
        metricCategories: [
          {
            category: 'AllMetrics'
          }
        ]
      }
    ]
    queues: [
      {
        name: feedbackQueueName
        lockDuration: 'PT5M'
        // Ten deliveries ride out a few minutes of storage or model outage before dead-lettering.
        maxDeliveryCount: 10
        deadLetteringOnMessageExpiration: true
        defaultMessageTimeToLive: 'P14D'
        // No SAS rules: local auth is off.
        authorizationRules: []
        roleAssignments: concat(
          [
            {
              principalId: identity.outputs.principalId
              principalType: 'ServicePrincipal'
              roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
            }
            {
              principalId: identity.outputs.principalId
              principalType: 'ServicePrincipal'
              roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
            }
          ],
          // Target-based scaling reads the message count (a Manage operation); without it the
          // extension falls back to peeking and under-scales. Scoped to this queue only.
          serviceBusScaleByMessageCount
            ? [
                {
                  principalId: identity.outputs.principalId
                  principalType: 'ServicePrincipal'
                  roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
                }
              ]
            : [],
          empty(principalId)
            ? []
            : [
                // Operators send test events and resubmit dead letters.
                {
                  principalId: principalId
                  principalType: principalType
                  roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
                }
                {
                  principalId: principalId
                  principalType: principalType
                  roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
                }
              ]
        )
      }
      {
        name: classifyQueueName
        // One work item ends well inside the lock (tests/test_infra.py sizes it).
        lockDuration: 'PT5M'
        // The last delivery sends the item's records to review, then the message dead-letters.
        maxDeliveryCount: classifyMaxDeliveries
        deadLetteringOnMessageExpiration: true
        defaultMessageTimeToLive: 'P14D'
        authorizationRules: []
        roleAssignments: concat(
          [
            // Ingest sends work items (azure-servicebus SDK); classify_batches receives them.
            {
              principalId: identity.outputs.principalId
              principalType: 'ServicePrincipal'
              roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
            }
            {
              principalId: identity.outputs.principalId
              principalType: 'ServicePrincipal'
              roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
            }
          ],
          serviceBusScaleByMessageCount
            ? [
                {
                  principalId: identity.outputs.principalId
                  principalType: 'ServicePrincipal'
                  roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
                }
              ]
            : []
        )
      }
    ]
  }
}

// ------------------------------------------------------------------ Azure OpenAI

module openAi 'br/public:avm/res/cognitive-services/account:0.10.2' = {
  name: 'openai'
  scope: rg
  params: {
    name: openAiName
    location: !empty(openAiLocation) ? openAiLocation : location
    tags: tags
    kind: 'OpenAI'
    sku: 'S0'
    // Entra tokens need the custom subdomain; keys are off.
    customSubDomainName: openAiName
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
    deployments: [
      {
        name: openAiDeploymentName
        model: {
          format: 'OpenAI'
          name: openAiModelName
          version: openAiModelVersion
        }
        sku: {
          name: openAiDeploymentSku
          capacity: openAiDeploymentCapacity
        }
      }
    ]
    roleAssignments: concat(
      [
        {
          principalId: identity.outputs.principalId
          principalType: 'ServicePrincipal'
          roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.cognitiveServicesOpenAiUser)
        }
      ],
      empty(principalId)
        ? []
        : [
            // Operators run `insightloop eval` against the same deployment.
            {
              principalId: principalId
              principalType: principalType
              roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.cognitiveServicesOpenAiUser)
            }
          ]
    )
  }
}

// ------------------------------------------------------------------ Key Vault

// Holds the integration secrets; app settings reference them, so no secret is in a template.
module keyVault 'br/public:avm/res/key-vault/vault:0.13.3' = {
  name: 'key-vault'
  scope: rg
  params: {
    name: vaultName
    location: location
    tags: tags
    sku: 'standard'
    enableRbacAuthorization: true
    enablePurgeProtection: keyVaultPurgeProtection
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    roleAssignments: concat(
      [
        {
          principalId: identity.outputs.principalId
          principalType: 'ServicePrincipal'
          roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
        }
      ],
      empty(principalId)
        ? []
        : [
            // Operators set the secret values (docs/operate.md#secrets).
            {
              principalId: principalId
              principalType: principalType
              roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
            }
          ]
    )
  }
}

// ------------------------------------------------------------------ Databricks (optional)

module databricks 'modules/databricks.bicep' = if (deployDatabricks) {
  name: 'databricks'
  scope: rg
  params: {
    workspaceName: '${abbrs.databricksWorkspaces}${resourceToken}'
    accessConnectorName: '${abbrs.databricksAccessConnectors}${resourceToken}'
    location: location
    tags: tags
    storageAccountName: dataStorage.outputs.name
    // Auto Loader reads landing; the Gold job writes exports.
    containerNames: [
      containers.landing
      containers.exports
    ]
  }
}

var databricksUrl = deployDatabricks ? 'https://${databricks!.outputs.workspaceUrl}' : databricksHost

// ------------------------------------------------------------------ app settings

var dataBlobUri = 'https://${dataStorage.outputs.name}.blob.${environment().suffixes.storage}'
var dataQueueUri = 'https://${dataStorage.outputs.name}.queue.${environment().suffixes.storage}'
var keyVaultSecretsUri = '${keyVault.outputs.uri}secrets'

// Functions host: storage, telemetry and the identity DefaultAzureCredential picks.
var hostSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
  AzureWebJobsStorage__blobServiceUri: 'https://${hostStorage.outputs.name}.blob.${environment().suffixes.storage}'
  AzureWebJobsStorage__queueServiceUri: 'https://${hostStorage.outputs.name}.queue.${environment().suffixes.storage}'
  AzureWebJobsStorage__tableServiceUri: 'https://${hostStorage.outputs.name}.table.${environment().suffixes.storage}'
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.outputs.clientId};Authorization=AAD'
  AZURE_CLIENT_ID: identity.outputs.clientId
}

// Binding connections: identity-based prefixes (blob triggers also need the queue endpoint).
var connectionSettings = {
  InboxStorage__blobServiceUri: dataBlobUri
  InboxStorage__queueServiceUri: dataQueueUri
  InboxStorage__credential: 'managedidentity'
  InboxStorage__clientId: identity.outputs.clientId
  ExportsStorage__blobServiceUri: dataBlobUri
  ExportsStorage__queueServiceUri: dataQueueUri
  ExportsStorage__credential: 'managedidentity'
  ExportsStorage__clientId: identity.outputs.clientId
  ServiceBusConnection__fullyQualifiedNamespace: '${serviceBus.outputs.name}.servicebus.windows.net'
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identity.outputs.clientId
}

// shared/settings.py, read lazily by the app.
var insightloopSettings = {
  INSIGHTLOOP_STORAGE_BACKEND: 'blob'
  INSIGHTLOOP_STORAGE_ACCOUNT_URL: dataBlobUri
  INSIGHTLOOP_INBOX_CONTAINER: containers.inbox
  INSIGHTLOOP_LANDING_CONTAINER: containers.landing
  INSIGHTLOOP_QUARANTINE_CONTAINER: containers.quarantine
  INSIGHTLOOP_LEDGER_CONTAINER: containers.ledger
  INSIGHTLOOP_EXPORTS_CONTAINER: containers.exports
  INSIGHTLOOP_OUTBOX_CONTAINER: containers.outbox
  INSIGHTLOOP_FEEDBACK_QUEUE: feedbackQueueName
  INSIGHTLOOP_CLASSIFY_QUEUE: classifyQueueName
  INSIGHTLOOP_CLASSIFY_MAX_DELIVERIES: string(classifyMaxDeliveries)
  INSIGHTLOOP_CLASSIFY_BATCH_SCHEDULE: '0 */10 * * * *'
  INSIGHTLOOP_SERVICE_BUS_NAMESPACE: '${serviceBus.outputs.name}.servicebus.windows.net'
  INSIGHTLOOP_LLM_PROVIDER: 'azure_openai'
  INSIGHTLOOP_AZURE_OPENAI_ENDPOINT: openAi.outputs.endpoint
  INSIGHTLOOP_AZURE_OPENAI_DEPLOYMENT: openAiDeploymentName
  INSIGHTLOOP_AZURE_OPENAI_API_VERSION: openAiApiVersion
  // The deployment's quota, shared by every instance (shared/limiter.py); Standard gives 6 RPM per 1,000 TPM.
  INSIGHTLOOP_LLM_TOKENS_PER_MINUTE: string(openAiDeploymentCapacity * 1000)
  INSIGHTLOOP_LLM_REQUESTS_PER_MINUTE: string(openAiDeploymentCapacity * 6)
  INSIGHTLOOP_LLM_QUOTA_INSTANCES: string(maximumInstanceCount)
  INSIGHTLOOP_GOLD_SCHEDULE: goldSchedule
  INSIGHTLOOP_DATABRICKS_AUTH_TYPE: 'azure-msi'
  INSIGHTLOOP_DATABRICKS_AZURE_CLIENT_ID: identity.outputs.clientId
}

// Callback secrets: Key Vault references resolved with the identity (keyVaultAccessIdentityResourceId).
var secretSettings = {
  INSIGHTLOOP_CALLBACKS_JIRA_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVaultSecretsUri}/jira-webhook-secret/)'
  INSIGHTLOOP_CALLBACKS_SLACK_SIGNING_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVaultSecretsUri}/slack-signing-secret/)'
  INSIGHTLOOP_CALLBACKS_REVIEW_SIGNING_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVaultSecretsUri}/review-signing-secret/)'
}

// Set only when configured: an empty value would not read as "unset" (an empty job id fails validation).
var optionalSettings = union(
  empty(goldJobId) ? {} : { INSIGHTLOOP_GOLD_JOB_ID: goldJobId },
  empty(databricksUrl) ? {} : { INSIGHTLOOP_DATABRICKS_HOST: databricksUrl },
  empty(databricksWarehouseId)
    ? {}
    : {
        INSIGHTLOOP_DATABRICKS_WAREHOUSE_ID: databricksWarehouseId
        INSIGHTLOOP_DATABRICKS_CATALOG: databricksCatalog
        INSIGHTLOOP_DATABRICKS_SCHEMA: databricksSchema
      },
  empty(routingLinkBaseUrl) ? {} : { INSIGHTLOOP_ROUTING_LINK_BASE_URL: routingLinkBaseUrl }
)

// Routing sinks: a sink without its endpoint writes to the outbox, so its secret is referenced only with it.
var routingSettings = union(
  empty(jiraBaseUrl)
    ? {}
    : {
        INSIGHTLOOP_JIRA_BASE_URL: jiraBaseUrl
        INSIGHTLOOP_JIRA_EMAIL: jiraEmail
        INSIGHTLOOP_JIRA_API_TOKEN: '@Microsoft.KeyVault(SecretUri=${keyVaultSecretsUri}/jira-api-token/)'
      },
  empty(servicenowInstanceUrl)
    ? {}
    : {
        INSIGHTLOOP_SERVICENOW_INSTANCE_URL: servicenowInstanceUrl
        INSIGHTLOOP_SERVICENOW_USERNAME: servicenowUsername
        INSIGHTLOOP_SERVICENOW_PASSWORD: '@Microsoft.KeyVault(SecretUri=${keyVaultSecretsUri}/servicenow-password/)'
      },
  enableSlack
    ? {
        INSIGHTLOOP_SLACK_BOT_TOKEN: '@Microsoft.KeyVault(SecretUri=${keyVaultSecretsUri}/slack-bot-token/)'
      }
    : {},
  // One per webhook_setting in prompts/routing.yaml.
  enableTeams
    ? {
        INSIGHTLOOP_TEAMS_WEBHOOK_MERCHANDISING: '@Microsoft.KeyVault(SecretUri=${keyVaultSecretsUri}/teams-webhook-merchandising/)'
        INSIGHTLOOP_TEAMS_WEBHOOK_LOGISTICS: '@Microsoft.KeyVault(SecretUri=${keyVaultSecretsUri}/teams-webhook-logistics/)'
      }
    : {}
)

// Base settings last, so they win over extraAppSettings.
var appSettings = union(
  extraAppSettings,
  routingSettings,
  optionalSettings,
  secretSettings,
  insightloopSettings,
  connectionSettings,
  hostSettings
)

// ------------------------------------------------------------------ function app

module appServicePlan 'br/public:avm/res/web/serverfarm:0.5.0' = {
  name: 'app-service-plan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    skuName: 'FC1'
    reserved: true
  }
}

module functionApp 'br/public:avm/res/web/site:0.21.0' = {
  name: 'function-app'
  scope: rg
  params: {
    name: appName
    location: location
    tags: union(tags, { 'azd-service-name': serviceName })
    kind: 'functionapp,linux'
    serverFarmResourceId: appServicePlan.outputs.resourceId
    managedIdentities: {
      userAssignedResourceIds: [
        identity.outputs.resourceId
      ]
    }
    // Key Vault references resolve with the user-assigned identity (there is no system identity).
    keyVaultAccessIdentityResourceId: identity.outputs.resourceId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: 'https://${hostStorage.outputs.name}.blob.${environment().suffixes.storage}/${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.outputs.resourceId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      alwaysOn: false
    }
    configs: [
      {
        name: 'appsettings'
        properties: appSettings
      }
    ]
  }
}

// ------------------------------------------------------------------ outputs (azd environment values)

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CLIENT_ID string = identity.outputs.clientId
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_FUNCTIONS_URI string = 'https://${functionApp.outputs.defaultHostname}'
output AZURE_STORAGE_ACCOUNT_NAME string = dataStorage.outputs.name
output AZURE_STORAGE_ACCOUNT_ID string = dataStorage.outputs.resourceId
output INSIGHTLOOP_STORAGE_ACCOUNT_URL string = dataBlobUri
output INSIGHTLOOP_INBOX_CONTAINER string = containers.inbox
output INSIGHTLOOP_EXPORTS_CONTAINER string = containers.exports
output EVENTGRID_SYSTEM_TOPIC_ID string = eventGridTopic.outputs.resourceId
output EVENTGRID_DEAD_LETTER_CONTAINER string = containers.deadLetter
output SERVICEBUS_NAMESPACE_FQDN string = '${serviceBus.outputs.name}.servicebus.windows.net'
output INSIGHTLOOP_FEEDBACK_QUEUE string = feedbackQueueName
output INSIGHTLOOP_CLASSIFY_QUEUE string = classifyQueueName
output INSIGHTLOOP_AZURE_OPENAI_ENDPOINT string = openAi.outputs.endpoint
output INSIGHTLOOP_AZURE_OPENAI_DEPLOYMENT string = openAiDeploymentName
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output APPLICATIONINSIGHTS_NAME string = appInsights.outputs.name
output LOG_ANALYTICS_WORKSPACE_ID string = logAnalytics.outputs.resourceId
output DATABRICKS_HOST string = databricksUrl
