// Reading Kubernetes API responses that are not one JSON document: a watch is newline-delimited JSON, and a
// failed request's body is a Status object or, from proxies in between, plain text. Shared by the
// informers and the CLI's watch.

/** The lines of a newline-delimited stream, trimmed, empty lines skipped; UTF-8 split across chunks is kept whole. */
export async function* streamLines(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line !== '') yield line;
      newline = buffered.indexOf('\n');
    }
  }
}

/** A failed response's body: the parsed JSON (a Kubernetes Status) or the text as sent ('' when unreadable). */
export async function errorBody(body: { text(): Promise<string> }): Promise<unknown> {
  const text = await body.text().catch(() => '');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
