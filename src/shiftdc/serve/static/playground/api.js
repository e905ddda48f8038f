// Talking to the server: JSON routes and streamed chat completions (SSE over fetch).
// The API key travels only in the Authorization header, never in a URL.

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code || null;
  }

  describe() {
    const where = this.status ? `HTTP ${this.status}` : "error";
    return `${where}: ${this.message}`;
  }
}

function headers(key, json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function errorOf(response) {
  let message = response.statusText || "request failed";
  let code = null;
  try {
    const body = await response.json();
    if (body && body.error) {
      message = body.error.message || message;
      code = body.error.code || null;
    }
  } catch (_) {
    // not JSON (a proxy's page, say): keep the status text
  }
  return new ApiError(response.status, message, code);
}

function networkError(exc) {
  if (exc && exc.name === "AbortError") return new ApiError(0, "stopped", "aborted");
  return new ApiError(0, `could not reach the server (${exc && exc.message ? exc.message : exc})`);
}

export async function getJSON(path, key) {
  let response;
  try {
    response = await fetch(path, { headers: headers(key, false), cache: "no-store" });
  } catch (exc) {
    throw networkError(exc);
  }
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

// POST a streamed chat completion; onDelta(text) for each piece. Resolves with
// {text, finish, shiftdc, usage}; rejects with ApiError (HTTP errors, errors sent inside
// the stream, a stream that ends without its final chunk, network failures, abort).
export async function streamChat(body, key, signal, onDelta) {
  let response;
  try {
    response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: headers(key, true),
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal,
      cache: "no-store",
    });
  } catch (exc) {
    throw networkError(exc);
  }
  if (!response.ok) throw await errorOf(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const out = { text: "", finish: null, shiftdc: null, usage: null, done: false };
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split("\n")) {
          if (line.startsWith("data:")) handleData(line.slice(5).trim(), out, onDelta);
        }
      }
    }
  } catch (exc) {
    if (exc instanceof ApiError) throw exc;
    throw networkError(exc);
  }
  if (!out.done || out.finish === null) {
    throw new ApiError(0, "the stream ended before the answer was complete");
  }
  return out;
}

function handleData(data, out, onDelta) {
  if (data === "[DONE]") {
    out.done = true;
    return;
  }
  const chunk = JSON.parse(data);
  if (chunk.error) {
    const status = { service_unavailable: 503, server_error: 500 }[chunk.error.type] || 0;
    throw new ApiError(status, chunk.error.message, chunk.error.code);
  }
  if (chunk.usage) out.usage = chunk.usage;
  for (const choice of chunk.choices || []) {
    const piece = choice.delta && choice.delta.content;
    if (piece) {
      out.text += piece;
      onDelta(piece);
    }
    if (choice.finish_reason) {
      out.finish = choice.finish_reason;
      out.shiftdc = chunk.shiftdc || null;
    }
  }
}
