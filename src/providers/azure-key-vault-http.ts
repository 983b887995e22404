import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { dispatchBounded, joinedHeaders, simpleRequestBody } from '../core/undici-exchange.js';

/** What this client reads of a core-rest-pipeline request. */
interface PipelineRequest {
  url: string;
  method: string;
  headers: Iterable<[string, string]>;
  body?: unknown;
  /** Milliseconds before the request is cancelled; 0 for none. */
  timeout: number;
  abortSignal?: {
    readonly aborted: boolean;
    readonly reason?: unknown;
    addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
    removeEventListener(type: 'abort', listener: () => void): void;
  };
  streamResponseStatusCodes?: Set<number>;
}

/** What this client gives back: a core-rest-pipeline response. */
interface PipelineResponse {
  request: PipelineRequest;
  status: number;
  headers: unknown;
  bodyAsText?: string | null;
  readableStreamBody?: NodeJS.ReadableStream;
}

/** The part of `@azure/core-rest-pipeline` this client needs (the copy the SDK itself uses). */
export interface AzurePipelineModule {
  createHttpHeaders(raw?: Record<string, string>): unknown;
}

/**
 * The Key Vault client's `httpClient` (the pipeline's supported way to replace its transport): every
 * request of the vault goes through one undici dispatcher, its body read within `limit` by the core
 * {@link dispatchBounded} (a body over the bound fails with a ResponseTooLargeError and drops its
 * connection, as the policy it replaces did), and the pipeline's abort signal or request timeout cancels it.
 * The SDK's policies (challenge authentication, tracing, request ids) run unchanged above it. The default
 * client reads each body through Node's streams and decompression layers; this one is markedly cheaper per
 * call (docs/performance.md).
 *
 * @example
 * ```ts
 * import { Agent } from 'undici';
 * import * as pipeline from '@azure/core-rest-pipeline';
 * const httpClient = new AzureVaultHttpClient(new Agent({ connections: 50 }), 8 << 20, pipeline);
 * new SecretClient('https://my-vault.vault.azure.net', credential, { httpClient });
 * ```
 */
export class AzureVaultHttpClient {
  readonly #dispatcher: Dispatcher;
  readonly #limit: number;
  readonly #pipeline: AzurePipelineModule;

  constructor(dispatcher: Dispatcher, limit: number, pipeline: AzurePipelineModule) {
    this.#dispatcher = dispatcher;
    this.#limit = limit;
    this.#pipeline = pipeline;
  }

  async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
    const url = new URL(request.url);
    const headers: Record<string, string> = {};
    // The pipeline's decompress policy asks for gzip; secrets are small, so this client asks for none (the
    // core exchange still decodes, within the bound, a body that comes compressed anyway).
    for (const [name, value] of request.headers) {
      if (name.toLowerCase() !== 'accept-encoding') headers[name] = value;
    }
    const res = await dispatchBounded(
      this.#dispatcher,
      {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: request.method as Dispatcher.HttpMethod,
        headers,
        // Key Vault's secret operations send JSON text only.
        body: simpleRequestBody(request.body, 'Key Vault HTTP client'),
      },
      this.#limit,
      { signal: request.abortSignal, timeoutMs: request.timeout },
    );
    const response: PipelineResponse = {
      request,
      status: res.status,
      headers: this.#pipeline.createHttpHeaders(joinedHeaders(res.headers)),
    };
    const streamed = request.streamResponseStatusCodes;
    if (streamed?.has(Number.POSITIVE_INFINITY) || streamed?.has(res.status)) {
      response.readableStreamBody = Readable.from([res.body]);
    } else response.bodyAsText = res.body.toString('utf8');
    return response;
  }
}
