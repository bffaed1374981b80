// Generates the CustomResourceDefinitions in crds/ (apiextensions.k8s.io/v1, argoproj.io/v1alpha1) for
// Rollout, AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun and Experiment.
//
// The schemas are structural and follow Argo Rollouts' field names, types, required fields, subresources,
// printer columns and short names, so Argo manifests pass server-side validation unchanged. They are
// written for Kubernetes >= 1.20 (no CEL / x-kubernetes-validations). Where Argo's generated schema is a
// full copy of a core type (pod template, JobSpec) or a router/provider we do not model, the schema names
// the fields we rely on and preserves the rest (`x-kubernetes-preserve-unknown-fields`), so valid manifests
// are accepted and the typed fields are still checked. Status schemas type Argo's fields and preserve
// unknown ones, so a status field the controller adds later is never silently pruned.
//
//   node scripts/cluster-crds.ts           write crds/*.yaml
//   node scripts/cluster-crds.ts --check   exit 1 when crds/*.yaml differ from what this script generates

import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';

export type Schema = { [key: string]: unknown };

const GROUP = 'argoproj.io';
const VERSION = 'v1alpha1';
const CATEGORIES = ['sluice', 'argoproj'];

// ---- building blocks ----------------------------------------------------------------------------------

const str = (): Schema => ({ type: 'string' });
const bool = (): Schema => ({ type: 'boolean' });
const int32 = (): Schema => ({ type: 'integer', format: 'int32' });
const int64 = (): Schema => ({ type: 'integer', format: 'int64' });
const dateTime = (): Schema => ({ type: 'string', format: 'date-time' });
const intOrString = (): Schema => ({
  anyOf: [{ type: 'integer' }, { type: 'string' }],
  'x-kubernetes-int-or-string': true,
});
const stringMap = (): Schema => ({ type: 'object', additionalProperties: { type: 'string' } });
const arrayOf = (items: Schema): Schema => ({ type: 'array', items });
/** An object whose unknown fields are kept (Argo: a full core type or a provider/router we do not model). */
const preserved = (properties?: Record<string, Schema>, required?: string[]): Schema => ({
  type: 'object',
  ...(properties === undefined ? {} : { properties }),
  ...(required === undefined ? {} : { required }),
  'x-kubernetes-preserve-unknown-fields': true,
});
const obj = (properties: Record<string, Schema>, required?: string[]): Schema => ({
  type: 'object',
  properties,
  ...(required === undefined || required.length === 0 ? {} : { required }),
});

const labelSelector = (): Schema =>
  obj({
    matchExpressions: arrayOf(
      obj({ key: str(), operator: str(), values: arrayOf(str()) }, ['key', 'operator']),
    ),
    matchLabels: stringMap(),
  });

const labelsAndAnnotations = (): Schema => obj({ annotations: stringMap(), labels: stringMap() });

const containerPort = (): Schema =>
  preserved({ containerPort: int32(), hostIP: str(), hostPort: int32(), name: str(), protocol: str() }, [
    'containerPort',
  ]);

const container = (): Schema =>
  preserved(
    {
      name: str(),
      image: str(),
      imagePullPolicy: str(),
      command: arrayOf(str()),
      args: arrayOf(str()),
      workingDir: str(),
      ports: arrayOf(containerPort()),
      env: arrayOf(preserved({ name: str(), value: str() }, ['name'])),
      resources: preserved({ limits: preserved(), requests: preserved() }),
    },
    ['name'],
  );

/** PodTemplateSpec: metadata labels/annotations and the containers typed, the rest of the PodSpec kept. */
const podTemplateSpec = (): Schema =>
  obj({
    metadata: preserved({ annotations: stringMap(), labels: stringMap() }),
    spec: preserved(
      {
        containers: arrayOf(container()),
        initContainers: arrayOf(container()),
        restartPolicy: str(),
        serviceAccountName: str(),
        terminationGracePeriodSeconds: int64(),
      },
      ['containers'],
    ),
  });

const analysisRunArgument = (): Schema =>
  obj(
    {
      name: str(),
      value: str(),
      valueFrom: obj({ fieldRef: obj({ fieldPath: str() }, ['fieldPath']), podTemplateHashValue: str() }),
    },
    ['name'],
  );

const templateArgument = (): Schema =>
  obj(
    {
      name: str(),
      value: str(),
      valueFrom: obj({
        fieldRef: obj({ fieldPath: str() }, ['fieldPath']),
        secretKeyRef: obj({ key: str(), name: str() }, ['key', 'name']),
      }),
    },
    ['name'],
  );

const dryRun = (): Schema => arrayOf(obj({ metricName: str() }, ['metricName']));
const measurementRetention = (): Schema =>
  arrayOf(obj({ limit: int32(), metricName: str() }, ['limit', 'metricName']));
const templateRefs = (): Schema => arrayOf(obj({ clusterScope: bool(), templateName: str() }));

/** RolloutAnalysis (steps[].analysis, blueGreen pre/post-promotion). */
const rolloutAnalysis = (): Schema =>
  obj({
    analysisRunMetadata: labelsAndAnnotations(),
    args: arrayOf(analysisRunArgument()),
    dryRun: dryRun(),
    measurementRetention: measurementRetention(),
    templates: templateRefs(),
  });

const backgroundAnalysis = (): Schema => {
  const schema = rolloutAnalysis();
  (schema.properties as Record<string, Schema>).startingStep = int32();
  return schema;
};

const antiAffinity = (): Schema =>
  obj({
    preferredDuringSchedulingIgnoredDuringExecution: obj({ weight: int32() }, ['weight']),
    requiredDuringSchedulingIgnoredDuringExecution: { type: 'object' },
  });

const stringMatch = (): Schema => obj({ exact: str(), prefix: str(), regex: str() });

const keyValueHeaders = (): Schema => arrayOf(obj({ key: str(), value: str() }, ['key', 'value']));

const oauth2 = (): Schema =>
  obj({ clientId: str(), clientSecret: str(), scopes: arrayOf(str()), tokenUrl: str() });

// ---- analysis -----------------------------------------------------------------------------------------

const metricProvider = (): Schema =>
  obj({
    prometheus: obj({
      address: str(),
      query: str(),
      timeout: int64(),
      insecure: bool(),
      headers: keyValueHeaders(),
      authentication: obj({
        sigv4: obj({ profile: str(), region: str(), roleArn: str() }),
        oauth2: oauth2(),
        basicAuth: obj({ password: str(), username: str() }),
      }),
      rangeQuery: obj({ end: str(), start: str(), step: str() }),
    }),
    web: obj(
      {
        method: str(),
        url: str(),
        headers: keyValueHeaders(),
        body: str(),
        jsonBody: preserved(),
        timeoutSeconds: int64(),
        jsonPath: str(),
        insecure: bool(),
        authentication: obj({ oauth2: oauth2() }),
      },
      ['url'],
    ),
    job: obj(
      {
        metadata: labelsAndAnnotations(),
        spec: preserved(
          { backoffLimit: int32(), activeDeadlineSeconds: int64(), template: podTemplateSpec() },
          ['template'],
        ),
      },
      ['spec'],
    ),
    kayenta: preserved(),
    datadog: preserved(),
    wavefront: preserved(),
    newRelic: preserved(),
    cloudWatch: preserved(),
    graphite: preserved(),
    influxdb: preserved(),
    skywalking: preserved(),
    plugin: preserved(),
  });

const metric = (): Schema =>
  obj(
    {
      name: str(),
      interval: str(),
      initialDelay: str(),
      count: intOrString(),
      successCondition: str(),
      failureCondition: str(),
      failureLimit: intOrString(),
      inconclusiveLimit: intOrString(),
      consecutiveErrorLimit: intOrString(),
      consecutiveSuccessLimit: intOrString(),
      provider: metricProvider(),
    },
    ['name', 'provider'],
  );

const analysisTemplateSpec = (): Schema =>
  obj({
    args: arrayOf(templateArgument()),
    dryRun: dryRun(),
    measurementRetention: measurementRetention(),
    metrics: arrayOf(metric()),
    templates: templateRefs(),
  });

const measurement = (): Schema =>
  preserved(
    {
      phase: str(),
      message: str(),
      startedAt: dateTime(),
      finishedAt: dateTime(),
      resumeAt: dateTime(),
      value: str(),
      metadata: stringMap(),
    },
    ['phase'],
  );

const runSummary = (): Schema =>
  obj({ count: int32(), successful: int32(), failed: int32(), inconclusive: int32(), error: int32() });

const analysisRunStatus = (): Schema =>
  preserved(
    {
      phase: str(),
      message: str(),
      startedAt: dateTime(),
      completedAt: dateTime(),
      metricResults: arrayOf(
        preserved(
          {
            name: str(),
            phase: str(),
            message: str(),
            measurements: arrayOf(measurement()),
            count: int32(),
            successful: int32(),
            failed: int32(),
            inconclusive: int32(),
            error: int32(),
            consecutiveError: int32(),
            consecutiveSuccess: int32(),
            dryRun: bool(),
            metadata: stringMap(),
          },
          ['name', 'phase'],
        ),
      ),
      runSummary: runSummary(),
      dryRunSummary: runSummary(),
    },
    ['phase'],
  );

// ---- rollout ------------------------------------------------------------------------------------------

const canaryStep = (): Schema =>
  obj({
    setWeight: int32(),
    pause: obj({ duration: intOrString() }),
    analysis: rolloutAnalysis(),
    experiment: obj(
      {
        templates: arrayOf(
          obj(
            {
              name: str(),
              specRef: str(),
              replicas: int32(),
              metadata: labelsAndAnnotations(),
              selector: labelSelector(),
              weight: int32(),
              service: obj({ name: str() }),
            },
            ['name', 'specRef'],
          ),
        ),
        duration: str(),
        analyses: arrayOf(
          obj(
            {
              name: str(),
              templateName: str(),
              clusterScope: bool(),
              args: arrayOf(analysisRunArgument()),
              requiredForCompletion: bool(),
            },
            ['name', 'templateName'],
          ),
        ),
        dryRun: dryRun(),
        measurementRetention: measurementRetention(),
        analysisRunMetadata: labelsAndAnnotations(),
      },
      ['templates'],
    ),
    setCanaryScale: obj({ matchTrafficWeight: bool(), replicas: int32(), weight: int32() }),
    setHeaderRoute: obj({
      name: str(),
      match: arrayOf(obj({ headerName: str(), headerValue: stringMatch() }, ['headerName', 'headerValue'])),
    }),
    setMirrorRoute: obj(
      {
        name: str(),
        match: arrayOf(
          obj({
            method: stringMatch(),
            path: stringMatch(),
            headers: { type: 'object', additionalProperties: stringMatch() },
          }),
        ),
        percentage: int32(),
      },
      ['name'],
    ),
    plugin: obj({ name: str(), config: preserved() }, ['name']),
  });

const trafficRouting = (): Schema =>
  obj({
    nginx: preserved({
      stableIngress: str(),
      stableIngresses: arrayOf(str()),
      annotationPrefix: str(),
      additionalIngressAnnotations: stringMap(),
      canaryIngressAnnotations: stringMap(),
    }),
    istio: preserved({
      virtualService: preserved({ name: str(), routes: arrayOf(str()) }, ['name']),
      virtualServices: arrayOf(preserved({ name: str(), routes: arrayOf(str()) }, ['name'])),
      destinationRule: obj({ name: str(), canarySubsetName: str(), stableSubsetName: str() }, [
        'name',
        'canarySubsetName',
        'stableSubsetName',
      ]),
    }),
    smi: preserved({ rootService: str(), trafficSplitName: str() }),
    alb: preserved({ ingress: str(), ingresses: arrayOf(str()), servicePort: int32(), rootService: str() }),
    ambassador: preserved({ mappings: arrayOf(str()) }, ['mappings']),
    appMesh: preserved(),
    traefik: preserved(),
    apisix: preserved(),
    plugins: preserved(),
    managedRoutes: arrayOf(obj({ name: str() }, ['name'])),
    maxTrafficWeight: int32(),
  });

const canaryStrategy = (): Schema =>
  obj({
    abortScaleDownDelaySeconds: int32(),
    analysis: backgroundAnalysis(),
    antiAffinity: antiAffinity(),
    canaryMetadata: labelsAndAnnotations(),
    canaryService: str(),
    dynamicStableScale: bool(),
    maxSurge: intOrString(),
    maxUnavailable: intOrString(),
    minPodsPerReplicaSet: int32(),
    pingPong: obj({ pingService: str(), pongService: str() }, ['pingService', 'pongService']),
    replicaProgressThreshold: obj({ type: str(), value: int32() }, ['type', 'value']),
    scaleDownDelayRevisionLimit: int32(),
    scaleDownDelaySeconds: int32(),
    stableMetadata: labelsAndAnnotations(),
    stableService: str(),
    steps: arrayOf(canaryStep()),
    trafficRouting: trafficRouting(),
  });

const blueGreenStrategy = (): Schema =>
  obj(
    {
      abortScaleDownDelaySeconds: int32(),
      activeMetadata: labelsAndAnnotations(),
      activeService: str(),
      antiAffinity: antiAffinity(),
      autoPromotionEnabled: bool(),
      autoPromotionSeconds: int32(),
      maxUnavailable: intOrString(),
      postPromotionAnalysis: rolloutAnalysis(),
      prePromotionAnalysis: rolloutAnalysis(),
      previewMetadata: labelsAndAnnotations(),
      previewReplicaCount: int32(),
      previewService: str(),
      scaleDownDelayRevisionLimit: int32(),
      scaleDownDelaySeconds: int32(),
      // Sluice's extension: the sluice/proxy router for blue-green (Argo has no traffic routing here).
      trafficRouting: obj({ plugins: preserved() }),
    },
    ['activeService'],
  );

const rolloutSpec = (): Schema =>
  obj({
    analysis: obj({ successfulRunHistoryLimit: int32(), unsuccessfulRunHistoryLimit: int32() }),
    minReadySeconds: int32(),
    paused: bool(),
    progressDeadlineAbort: bool(),
    progressDeadlineSeconds: int32(),
    replicas: int32(),
    restartAt: dateTime(),
    revisionHistoryLimit: int32(),
    rollbackWindow: obj({ revisions: int32() }),
    selector: labelSelector(),
    strategy: obj({ blueGreen: blueGreenStrategy(), canary: canaryStrategy() }),
    template: podTemplateSpec(),
    workloadRef: obj({ apiVersion: str(), kind: str(), name: str(), scaleDown: str() }),
  });

const analysisRunStatusRef = (): Schema =>
  obj({ message: str(), name: str(), status: str() }, ['name', 'status']);

const rolloutStatus = (): Schema =>
  preserved({
    HPAReplicas: int32(),
    abort: bool(),
    abortedAt: dateTime(),
    availableReplicas: int32(),
    blueGreen: preserved({
      activeSelector: str(),
      postPromotionAnalysisRunStatus: analysisRunStatusRef(),
      prePromotionAnalysisRunStatus: analysisRunStatusRef(),
      previewSelector: str(),
      scaleUpPreviewCheckPoint: bool(),
    }),
    canary: preserved({
      currentBackgroundAnalysisRunStatus: analysisRunStatusRef(),
      currentExperiment: str(),
      currentStepAnalysisRunStatus: analysisRunStatusRef(),
      stablePingPong: str(),
      weights: preserved({
        canary: preserved({ podTemplateHash: str(), serviceName: str(), weight: int32() }, ['weight']),
        stable: preserved({ podTemplateHash: str(), serviceName: str(), weight: int32() }, ['weight']),
        additional: arrayOf(
          preserved({ podTemplateHash: str(), serviceName: str(), weight: int32() }, ['weight']),
        ),
        verified: bool(),
      }),
    }),
    collisionCount: int32(),
    conditions: arrayOf(
      obj(
        {
          lastTransitionTime: dateTime(),
          lastUpdateTime: dateTime(),
          message: str(),
          reason: str(),
          status: str(),
          type: str(),
        },
        ['lastTransitionTime', 'lastUpdateTime', 'message', 'reason', 'status', 'type'],
      ),
    ),
    controllerPause: bool(),
    currentPodHash: str(),
    currentStepHash: str(),
    currentStepIndex: int32(),
    message: str(),
    // Argo quirk: observedGeneration is a string holding metadata.generation.
    observedGeneration: str(),
    pauseConditions: arrayOf(obj({ reason: str(), startTime: dateTime() }, ['reason', 'startTime'])),
    phase: str(),
    promoteFull: bool(),
    readyReplicas: int32(),
    replicas: int32(),
    restartedAt: dateTime(),
    selector: str(),
    stableRS: str(),
    updatedReplicas: int32(),
    workloadObservedGeneration: str(),
  });

// ---- experiment ---------------------------------------------------------------------------------------

const experimentSpec = (): Schema =>
  obj(
    {
      templates: arrayOf(
        obj(
          {
            name: str(),
            replicas: int32(),
            minReadySeconds: int32(),
            selector: labelSelector(),
            template: podTemplateSpec(),
            service: obj({ name: str() }),
          },
          ['name', 'selector', 'template'],
        ),
      ),
      duration: str(),
      progressDeadlineSeconds: int32(),
      terminate: bool(),
      scaleDownDelaySeconds: int32(),
      analyses: arrayOf(
        obj(
          {
            name: str(),
            templateName: str(),
            clusterScope: bool(),
            args: arrayOf(templateArgument()),
            requiredForCompletion: bool(),
          },
          ['name', 'templateName'],
        ),
      ),
      dryRun: dryRun(),
      measurementRetention: measurementRetention(),
      analysisRunMetadata: labelsAndAnnotations(),
    },
    ['templates'],
  );

const experimentStatus = (): Schema =>
  preserved({
    phase: str(),
    message: str(),
    availableAt: dateTime(),
    templateStatuses: arrayOf(
      preserved(
        {
          name: str(),
          replicas: int32(),
          updatedReplicas: int32(),
          readyReplicas: int32(),
          availableReplicas: int32(),
          collisionCount: int32(),
          status: str(),
          message: str(),
          lastTransitionTime: dateTime(),
          serviceName: str(),
          podTemplateHash: str(),
        },
        ['availableReplicas', 'name', 'readyReplicas', 'replicas', 'updatedReplicas'],
      ),
    ),
    conditions: arrayOf(
      obj(
        {
          lastTransitionTime: dateTime(),
          lastUpdateTime: dateTime(),
          message: str(),
          reason: str(),
          status: str(),
          type: str(),
        },
        ['lastTransitionTime', 'lastUpdateTime', 'message', 'reason', 'status', 'type'],
      ),
    ),
    analysisRuns: arrayOf(
      obj({ name: str(), analysisRun: str(), phase: str(), message: str() }, [
        'analysisRun',
        'name',
        'phase',
      ]),
    ),
  });

// ---- CRD documents ------------------------------------------------------------------------------------

interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description: string;
}

const ageColumn: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since resource was created',
};

interface CrdInput {
  kind: string;
  plural: string;
  shortNames: string[];
  scope: 'Namespaced' | 'Cluster';
  spec: Schema;
  specRequired: boolean;
  status?: Schema;
  scale?: boolean;
  columns: PrinterColumn[];
}

export function crd(input: CrdInput): Schema {
  const properties: Record<string, Schema> = {
    apiVersion: str(),
    kind: str(),
    metadata: { type: 'object' },
    spec: input.spec,
  };
  if (input.status !== undefined) properties.status = input.status;
  const subresources: Schema = {};
  if (input.status !== undefined) subresources.status = {};
  if (input.scale === true) {
    subresources.scale = {
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.HPAReplicas',
      labelSelectorPath: '.status.selector',
    };
  }
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${input.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'sluice', 'app.kubernetes.io/part-of': 'sluice' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: input.kind,
        listKind: `${input.kind}List`,
        plural: input.plural,
        singular: input.kind.toLowerCase(),
        shortNames: input.shortNames,
        categories: CATEGORIES,
      },
      scope: input.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          additionalPrinterColumns: input.columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties,
              ...(input.specRequired ? { required: ['spec'] } : {}),
            },
          },
          ...(Object.keys(subresources).length > 0 ? { subresources } : {}),
        },
      ],
    },
  };
}

/** File name in crds/ -> CRD object. */
export function allCrds(): Record<string, Schema> {
  return {
    'rollout.yaml': crd({
      kind: 'Rollout',
      plural: 'rollouts',
      shortNames: ['ro'],
      scope: 'Namespaced',
      spec: rolloutSpec(),
      specRequired: true,
      status: rolloutStatus(),
      scale: true,
      columns: [
        {
          name: 'Desired',
          type: 'integer',
          jsonPath: '.spec.replicas',
          description: 'Number of desired pods',
        },
        {
          name: 'Current',
          type: 'integer',
          jsonPath: '.status.replicas',
          description: 'Total number of non-terminated pods targeted by this rollout',
        },
        {
          name: 'Up-to-date',
          type: 'integer',
          jsonPath: '.status.updatedReplicas',
          description:
            'Total number of non-terminated pods targeted by this rollout that have the desired template spec',
        },
        {
          name: 'Available',
          type: 'integer',
          jsonPath: '.status.availableReplicas',
          description:
            'Total number of available pods (ready for at least minReadySeconds) targeted by this rollout',
        },
        ageColumn,
      ],
    }),
    'analysis-template.yaml': crd({
      kind: 'AnalysisTemplate',
      plural: 'analysistemplates',
      shortNames: ['at'],
      scope: 'Namespaced',
      spec: analysisTemplateSpec(),
      specRequired: true,
      columns: [ageColumn],
    }),
    'cluster-analysis-template.yaml': crd({
      kind: 'ClusterAnalysisTemplate',
      plural: 'clusteranalysistemplates',
      shortNames: ['cat'],
      scope: 'Cluster',
      spec: analysisTemplateSpec(),
      specRequired: true,
      columns: [ageColumn],
    }),
    'analysis-run.yaml': crd({
      kind: 'AnalysisRun',
      plural: 'analysisruns',
      shortNames: ['ar'],
      scope: 'Namespaced',
      spec: (() => {
        const spec = obj(
          {
            args: arrayOf(templateArgument()),
            dryRun: dryRun(),
            measurementRetention: measurementRetention(),
            metrics: arrayOf(metric()),
            terminate: bool(),
            ttlStrategy: obj({
              secondsAfterCompletion: int32(),
              secondsAfterFailure: int32(),
              secondsAfterSuccess: int32(),
            }),
          },
          ['metrics'],
        );
        return spec;
      })(),
      specRequired: true,
      status: analysisRunStatus(),
      columns: [
        { name: 'Status', type: 'string', jsonPath: '.status.phase', description: 'AnalysisRun status' },
        ageColumn,
      ],
    }),
    'experiment.yaml': crd({
      kind: 'Experiment',
      plural: 'experiments',
      shortNames: ['exp'],
      scope: 'Namespaced',
      spec: experimentSpec(),
      specRequired: true,
      status: experimentStatus(),
      columns: [
        { name: 'Status', type: 'string', jsonPath: '.status.phase', description: 'Experiment status' },
        ageColumn,
      ],
    }),
  };
}

export const CRDS_DIR = resolve(import.meta.dirname, '..', 'crds');

export function renderCrd(doc: Schema): string {
  return `# Generated by scripts/cluster-crds.ts; edit that file and run \`node scripts/cluster-crds.ts\`.\n${stringify(doc, { lineWidth: 0 })}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
  const stale: string[] = [];
  for (const [file, doc] of Object.entries(allCrds())) {
    const path = join(CRDS_DIR, file);
    const text = renderCrd(doc);
    if (values.check) {
      const current = await readFile(path, 'utf8').catch(() => '');
      if (current !== text) stale.push(file);
    } else {
      await writeFile(path, text);
    }
  }
  if (stale.length > 0) {
    process.stderr.write(`crds/ is out of date (${stale.join(', ')}): run node scripts/cluster-crds.ts\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  await main();
}
