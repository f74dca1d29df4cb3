import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** The subset of LSP types the tests read. */
export interface LspPosition {
  line: number;
  character: number;
}
export interface LspRange {
  start: LspPosition;
  end: LspPosition;
}
export interface LspDiagnostic {
  range: LspRange;
  message: string;
  severity?: number;
  source?: string;
}
export interface LspCompletionItem {
  label: string;
  insertText?: string;
  insertTextFormat?: number;
  textEdit?: { range: LspRange; newText: string } | { insert: LspRange; newText: string };
  documentation?: string | { kind: string; value: string };
  detail?: string;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * A minimal LSP client over stdio for the YAML language server VS Code's YAML extension
 * runs: Content-Length framing, JSON-RPC requests both ways, diagnostics per document.
 * One server process serves a whole test file; `stop()` shuts it down and waits for exit.
 */
export interface YamlLanguageServer {
  /** Open (or re-open under a new uri) a document and wait for its first diagnostics. */
  diagnose(uri: string, text: string): Promise<LspDiagnostic[]>;
  complete(uri: string, text: string, position: LspPosition): Promise<LspCompletionItem[]>;
  hover(uri: string, text: string, position: LspPosition): Promise<string>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Workspace folder; relative schema paths in `yaml.schemas` resolve against it. */
  rootDir: string;
  /** The `yaml` settings section, as VS Code would send it (nested, without the prefix). */
  yamlSettings: Record<string, unknown>;
  /** Fail any single request or wait after this long (ms). */
  timeoutMs?: number;
}

export async function startYamlLanguageServer(opts: StartOptions): Promise<YamlLanguageServer> {
  const require = createRequire(import.meta.url);
  const bin = require.resolve('yaml-language-server/bin/yaml-language-server');
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [bin, '--stdio'], {
    stdio: 'pipe',
    // The server reads no environment we need; keep proxies and the like out of it.
    env: { PATH: process.env['PATH'] ?? '' },
  });
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const pending = new Map<number, Pending>();
  const diagnosticWaiters = new Map<string, (d: LspDiagnostic[]) => void>();
  let configurationPulled: () => void = () => undefined;
  const configured = new Promise<void>((resolve) => {
    configurationPulled = resolve;
  });
  let nextId = 1;
  let buffer = Buffer.alloc(0);
  let stderr = '';
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.on('exit', () => {
      exited = true;
      for (const p of pending.values()) p.reject(new Error(`language server exited\n${stderr}`));
      pending.clear();
      resolve();
    });
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));

  const send = (message: object): void => {
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }), 'utf8');
    child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    child.stdin.write(body);
  };

  const onMessage = (msg: {
    id?: number | string;
    method?: string;
    params?: unknown;
    result?: unknown;
    error?: { message: string };
  }): void => {
    if (msg.method !== undefined && msg.id !== undefined) {
      // A request from the server: answer the few it makes, null for the rest.
      let result: unknown = null;
      if (msg.method === 'workspace/configuration') {
        const items = (msg.params as { items: { section?: string }[] }).items;
        result = items.map((i) => (i.section === 'yaml' ? opts.yamlSettings : {}));
      }
      send({ id: msg.id, result });
      if (msg.method === 'workspace/configuration') configurationPulled();
      return;
    }
    if (msg.method === 'textDocument/publishDiagnostics') {
      const p = msg.params as { uri: string; diagnostics: LspDiagnostic[] };
      const waiter = diagnosticWaiters.get(p.uri);
      if (waiter !== undefined) {
        diagnosticWaiters.delete(p.uri);
        waiter(p.diagnostics);
      }
      return;
    }
    if (msg.id !== undefined && typeof msg.id === 'number') {
      const p = pending.get(msg.id);
      if (p === undefined) return;
      pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
    }
  };

  child.stdout.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const headerEnd = buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const header = buffer.subarray(0, headerEnd).toString('ascii');
      const length = Number(/Content-Length: (\d+)/i.exec(header)?.[1] ?? NaN);
      if (!Number.isFinite(length)) throw new Error(`bad LSP header: ${header}`);
      if (buffer.length < headerEnd + 4 + length) return;
      const body = buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
      buffer = buffer.subarray(headerEnd + 4 + length);
      onMessage(JSON.parse(body) as Parameters<typeof onMessage>[0]);
    }
  });

  const withTimeout = <T>(what: string, promise: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`language server: no answer to ${what} in ${timeoutMs} ms\n${stderr}`));
      }, timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => {
      clearTimeout(timer);
    });
  };

  const request = <T>(method: string, params: unknown): Promise<T> => {
    if (exited) return Promise.reject(new Error(`language server exited\n${stderr}`));
    const id = nextId++;
    const answer = new Promise<unknown>((resolve, reject) => {
      pending.set(id, { resolve, reject });
    });
    send({ id, method, params });
    return withTimeout(method, answer) as Promise<T>;
  };
  const notify = (method: string, params: unknown): void => {
    send({ method, params });
  };

  const rootUri = pathToFileURL(opts.rootDir).href;
  await request('initialize', {
    processId: process.pid,
    rootUri,
    workspaceFolders: [{ uri: rootUri, name: 'mxpolicy' }],
    capabilities: {
      workspace: { configuration: true, workspaceFolders: true },
      textDocument: {
        completion: {
          completionItem: { snippetSupport: true, documentationFormat: ['markdown', 'plaintext'] },
        },
        hover: { contentFormat: ['markdown', 'plaintext'] },
        publishDiagnostics: {},
      },
    },
  });
  notify('initialized', {});
  notify('workspace/didChangeConfiguration', { settings: {} });
  // The server pulls its settings after this notification; requests sent before it has them
  // are answered without schemas, so wait for the pull.
  await withTimeout('workspace/configuration', configured);

  const open = new Set<string>();
  const openDocument = (uri: string, text: string): void => {
    if (open.has(uri)) {
      notify('textDocument/didClose', { textDocument: { uri } });
      open.delete(uri);
    }
    notify('textDocument/didOpen', {
      textDocument: { uri, languageId: 'yaml', version: 1, text },
    });
    open.add(uri);
  };

  return {
    async diagnose(uri, text) {
      if (open.has(uri)) {
        notify('textDocument/didClose', { textDocument: { uri } });
        open.delete(uri);
        // Closing publishes an empty list; let it pass before waiting for the new one.
        await new Promise<void>((resolve) => {
          diagnosticWaiters.set(uri, () => {
            resolve();
          });
        });
      }
      const diagnostics = new Promise<LspDiagnostic[]>((resolve) => {
        diagnosticWaiters.set(uri, resolve);
      });
      openDocument(uri, text);
      return withTimeout(`diagnostics of ${uri}`, diagnostics);
    },
    async complete(uri, text, position) {
      openDocument(uri, text);
      const result = await request<{ items: LspCompletionItem[] } | LspCompletionItem[] | null>(
        'textDocument/completion',
        { textDocument: { uri }, position },
      );
      if (result === null) return [];
      return Array.isArray(result) ? result : result.items;
    },
    async hover(uri, text, position) {
      openDocument(uri, text);
      const result = await request<{ contents: { value: string } | string } | null>(
        'textDocument/hover',
        { textDocument: { uri }, position },
      );
      if (result === null) return '';
      return typeof result.contents === 'string' ? result.contents : result.contents.value;
    },
    async stop() {
      if (exited) return;
      try {
        await request('shutdown', null);
        notify('exit', null);
      } catch {
        child.kill();
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
