// p50/p95 of the Kubernetes provider's store and retrieve against the loopback emulator, beside the same
// calls made with @kubernetes/client-node directly, in the same run. Target: overhead at most 10% at p50.
import type { Agent } from 'node:https';
import { Agent as HttpsAgent } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { EncryptionManager } from '../src/core/crypto.js';
import { encodeCredentialDocument } from '../src/core/document.js';
import { createMetadata } from '../src/core/metadata.js';
import { KubernetesSecretsProvider } from '../src/providers/kubernetes-secrets.js';
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  metadataAnnotations,
  tagLabels,
} from '../src/providers/kubernetes-secrets-objects.js';
import { kubeCallsThrough, kubernetesBenchCluster } from './raw-clients.js';
import { measure, measureInterleaved, printTable, ratio, summarize } from './util.js';

const ITERATIONS = 300;
const { emulator, namespace, kubeconfigPath } = await kubernetesBenchCluster();

const provider = new KubernetesSecretsProvider({ kubeconfigPath });
await provider.connect();

const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfigPath);
const raw = kc.makeApiClient(k8s.CoreV1Api);
// The same API client with one keep-alive agent (what the provider does), to separate TLS set-up cost from
// the provider's own work.
const agent: Agent = new HttpsAgent({ keepAlive: true, ca: emulator.caCertPem });
const keepAlive = kubeCallsThrough(agent);

const enc = EncryptionManager.generate();
const data = enc.encrypt(Buffer.from('a typical 40-byte database password value'));
const metadata = createMetadata({ tags: { env: 'prod', team: 'payments' } });
// The raw calls send and read exactly what the provider does (same labels, annotations and document), so
// the difference is the provider's own work.
const body = (name: string): k8s.V1Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'Opaque',
  metadata: {
    name,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, ...tagLabels(metadata.tags) },
    annotations: metadataAnnotations(name, metadata),
  },
  data: { credential: Buffer.from(encodeCredentialDocument(data, metadata)).toString('base64') },
});

const rows = [];
// measure() reuses indices for its warm-up, so names come from a counter to keep every store a create.
const seq = { ours: 0, rawKeepAlive: 0, raw: 0, createOnly: 0 };

/** Runs `a` and `b` alternately (order flipped each round) so load changes hit both sides equally. */
async function paired(
  iterations: number,
  a: (i: number) => Promise<unknown>,
  b: (i: number) => Promise<unknown>,
): Promise<[number[], number[]]> {
  const [sa, sb] = await measureInterleaved(iterations, [a, b], 30);
  return [sa!, sb!];
}

const [storeOursSamples, storeRawKaSamples, createOnlySamples] = await measureInterleaved(
  ITERATIONS,
  [
    () => provider.store(`ours_${seq.ours++}`, data, metadata),
    () => raw.createNamespacedSecret({ namespace, body: body(`rawka-${seq.rawKeepAlive++}`) }, keepAlive),
    () => provider.store(`only_${seq.createOnly++}`, data, metadata, undefined, { createOnly: true }),
  ],
  30,
);
const storeOurs = summarize(storeOursSamples!);
const storeRawKa = summarize(storeRawKaSamples!);
const createOnly = summarize(createOnlySamples!);
const storeRaw = summarize(
  await measure(
    ITERATIONS,
    () => raw.createNamespacedSecret({ namespace, body: body(`raw-${seq.raw++}`) }),
    30,
  ),
);
rows.push(
  {
    label: 'store (provider, create)',
    summary: storeOurs,
    note: `${ratio(storeOurs.p50, storeRawKa.p50)} of raw keep-alive at p50`,
  },
  {
    label: 'store (provider, createOnly)',
    summary: createOnly,
    note: `${ratio(createOnly.p50, storeRawKa.p50)} of raw keep-alive at p50 (one POST, as create sends)`,
  },
  { label: 'createNamespacedSecret raw+keepalive', summary: storeRawKa, note: 'same run, interleaved' },
  {
    label: 'createNamespacedSecret raw',
    summary: storeRaw,
    note: 'client default: new TLS connection per call',
  },
);
const [getOursSamples, getRawKaSamples] = await paired(
  ITERATIONS,
  (i) => provider.retrieve(`ours_${i % 100}`),
  (i) => raw.readNamespacedSecret({ namespace, name: provider.secretName(`ours_${i % 100}`) }, keepAlive),
);
const getOurs = summarize(getOursSamples);
const getRawKa = summarize(getRawKaSamples);
const getRaw = summarize(
  await measure(ITERATIONS, (i) => raw.readNamespacedSecret({ namespace, name: `raw-${i % 100}` }), 30),
);
rows.push(
  {
    label: 'retrieve (provider)',
    summary: getOurs,
    note: `${ratio(getOurs.p50, getRawKa.p50)} of raw keep-alive at p50`,
  },
  { label: 'readNamespacedSecret raw+keepalive', summary: getRawKa, note: 'same run, interleaved' },
  {
    label: 'readNamespacedSecret raw',
    summary: getRaw,
    note: 'client default: new TLS connection per call',
  },
);
const requestsBefore = emulator.secretRequests();
const overwrite = summarize(await measure(100, () => provider.store('ours_0', data, metadata), 10));
const perOverwrite = (emulator.secretRequests() - requestsBefore) / 110;
rows.push({
  label: 'store (provider, overwrite)',
  summary: overwrite,
  note: `${perOverwrite} request(s) per call (an id this process wrote)`,
});
printTable(
  `kubernetes-secrets vs @kubernetes/client-node, loopback HTTPS emulator, ${ITERATIONS} iterations`,
  rows,
);

await provider.close();
agent.destroy();
await emulator.stop();
