// p50/p95 of the Kubernetes provider's store and retrieve against the loopback emulator, beside the same
// calls made with @kubernetes/client-node directly, in the same run. Target: overhead at most 10% at p50.
import type { Agent } from 'node:https';
import { Agent as HttpsAgent } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { EncryptionManager } from '../src/core/crypto.js';
import { encodeCredentialDocument } from '../src/core/document.js';
import { createMetadata } from '../src/core/metadata.js';
import { KubernetesSecretsProvider } from '../src/providers/kubernetes-secrets.js';
import { KubernetesEmulator } from '../src/testing/emulators/kubernetes.js';
import { measure, printTable, ratio, summarize } from './util.js';

const ITERATIONS = 300;
const emulator = new KubernetesEmulator();
await emulator.start();
const namespace = 'bench';
const token = emulator.createServiceAccount(namespace, 'bench');
emulator.grant(namespace, 'bench');
const kubeconfigPath = emulator.writeKubeconfig({ token, namespace });

const provider = new KubernetesSecretsProvider({ kubeconfigPath });
await provider.connect();

const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfigPath);
const raw = kc.makeApiClient(k8s.CoreV1Api);
// The same API client with one keep-alive agent (what the provider does), to separate TLS set-up cost from
// the provider's own work.
const agent: Agent = new HttpsAgent({ keepAlive: true, ca: emulator.caCertPem });
const keepAlive = {
  middleware: [
    {
      pre: (c: { setAgent(a: Agent): void }) => {
        c.setAgent(agent);
        return { toPromise: () => Promise.resolve(c) };
      },
      post: <R>(c: R) => ({ toPromise: () => Promise.resolve(c) }),
    },
  ],
} as unknown as Parameters<k8s.CoreV1Api['readNamespacedSecret']>[1];

const enc = EncryptionManager.generate();
const data = enc.encrypt(Buffer.from('a typical 40-byte database password value'));
const metadata = createMetadata({ tags: { env: 'prod', team: 'payments' } });
const body = (name: string): k8s.V1Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'Opaque',
  metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'nebula-credential' } },
  data: { credential: Buffer.from(encodeCredentialDocument(data, metadata)).toString('base64') },
});

const rows = [];
// measure() reuses indices for its warm-up, so names come from a counter to keep every store a create.
let seq = 0;
const storeOurs = summarize(
  await measure(ITERATIONS, () => provider.store(`ours_${seq++}`, data, metadata), 30),
);
const storeRaw = summarize(
  await measure(ITERATIONS, () => raw.createNamespacedSecret({ namespace, body: body(`raw-${seq++}`) }), 30),
);
const storeRawKa = summarize(
  await measure(
    ITERATIONS,
    () => raw.createNamespacedSecret({ namespace, body: body(`rawka-${seq++}`) }, keepAlive),
    30,
  ),
);
rows.push(
  {
    label: 'store (provider, create)',
    summary: storeOurs,
    note: `vs raw keep-alive ${ratio(storeOurs.p50, storeRawKa.p50)} at p50`,
  },
  {
    label: 'createNamespacedSecret raw',
    summary: storeRaw,
    note: 'new TLS connection per call (client default)',
  },
  { label: 'createNamespacedSecret raw+keepalive', summary: storeRawKa },
);
const getOurs = summarize(await measure(ITERATIONS, (i) => provider.retrieve(`ours_${i % 100}`), 30));
const getRaw = summarize(
  await measure(
    ITERATIONS,
    (i) => raw.readNamespacedSecret({ namespace, name: `raw-${400 + (i % 100)}` }),
    30,
  ),
);
const getRawKa = summarize(
  await measure(
    ITERATIONS,
    (i) => raw.readNamespacedSecret({ namespace, name: `raw-${400 + (i % 100)}` }, keepAlive),
    30,
  ),
);
rows.push(
  {
    label: 'retrieve (provider)',
    summary: getOurs,
    note: `vs raw keep-alive ${ratio(getOurs.p50, getRawKa.p50)} at p50`,
  },
  {
    label: 'readNamespacedSecret raw',
    summary: getRaw,
    note: 'new TLS connection per call (client default)',
  },
  { label: 'readNamespacedSecret raw+keepalive', summary: getRawKa },
);
const overwrite = summarize(await measure(100, () => provider.store('ours_0', data, metadata), 10));
rows.push({ label: 'store (provider, overwrite)', summary: overwrite, note: 'POST 409 + GET + PUT' });
printTable(
  `kubernetes-secrets vs @kubernetes/client-node, loopback HTTPS emulator, ${ITERATIONS} iterations`,
  rows,
);

await provider.close();
agent.destroy();
await emulator.stop();
