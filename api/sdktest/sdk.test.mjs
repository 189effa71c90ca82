// The official OpenAI Node SDK against a Spillway server. api/sdk_test.go
// starts a server with a deterministic fake generator and runs this file
// with SPILLWAY_URL set to the server's root URL. The fake model "fake"
// answers choice c with the words " Hello", " world", "!", " the", " cat",
// ... starting at word c (+ seed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const root = process.env.SPILLWAY_URL;
if (!root) {
  throw new Error('SPILLWAY_URL is not set (run through go test ./api -run OpenAINodeSDK)');
}
const key = process.env.SPILLWAY_KEY ?? 'sk-test';
const limitedKey = process.env.SPILLWAY_LIMITED_KEY ?? 'sk-limited';
const client = new OpenAI({ baseURL: `${root}/v1`, apiKey: key, maxRetries: 0, timeout: 20_000 });
const user = [{ role: 'user', content: 'Say hello' }];

test('models list', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    assert.equal(m.owned_by, 'spillway');
    assert.equal(typeof m.created, 'number');
    ids.push(m.id);
  }
  assert.ok(ids.includes('fake'), `models: ${ids}`);
  const card = await client.models.retrieve('fake');
  assert.equal(card.id, 'fake');
});

test('chat completion', async () => {
  const r = await client.chat.completions.create({ model: 'fake', messages: user, max_tokens: 3 });
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, 'fake');
  assert.equal(typeof r.created, 'number');
  assert.match(r.system_fingerprint, /^fp_/);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].index, 0);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, ' Hello world!');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.choices[0].logprobs, null);
  assert.equal(r.usage.completion_tokens, 3);
  assert.ok(r.usage.prompt_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 3);
});

test('chat completion with raw response headers', async () => {
  const { response } = await client.chat.completions
    .create({ model: 'fake', messages: user, max_tokens: 1 })
    .withResponse();
  assert.equal(response.headers.get('x-spillway-route'), 'local');
});

test('chat stream with usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'fake', messages: user, max_tokens: 3, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let role = null;
  let finish = null;
  let usage = null;
  let id = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    id ??= chunk.id;
    assert.equal(chunk.id, id);
    if (chunk.usage) {
      usage = chunk.usage;
      assert.equal(chunk.choices.length, 0);
      continue;
    }
    const c = chunk.choices[0];
    if (c.delta.role) {
      assert.equal(text, '', 'role comes first');
      role = c.delta.role;
    }
    text += c.delta.content ?? '';
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.match(id, /^chatcmpl-/);
  assert.equal(role, 'assistant');
  assert.equal(text, ' Hello world!');
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 3);
  assert.equal(usage.total_tokens, usage.prompt_tokens + 3);
});

test('chat n > 1 and seed', async () => {
  const r = await client.chat.completions.create({ model: 'fake', messages: user, max_tokens: 2, n: 3 });
  assert.deepEqual(r.choices.map((c) => [c.index, c.message.content]), [[0, ' Hello world'], [1, ' world!'], [2, '! the']]);
  const s = await client.chat.completions.create({ model: 'fake', messages: user, max_tokens: 2, seed: 3 });
  assert.equal(s.choices[0].message.content, ' the cat');
});

test('chat stream n > 1', async () => {
  const stream = await client.chat.completions.create({ model: 'fake', messages: user, max_tokens: 2, n: 2, stream: true });
  const texts = ['', ''];
  const finish = [null, null];
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      texts[c.index] += c.delta.content ?? '';
      if (c.finish_reason) finish[c.index] = c.finish_reason;
    }
  }
  assert.deepEqual(texts, [' Hello world', ' world!']);
  assert.deepEqual(finish, ['length', 'length']);
});

test('stop sequences', async () => {
  const r = await client.chat.completions.create({ model: 'fake', messages: user, max_tokens: 8, stop: [' the', 'zzz'] });
  assert.equal(r.choices[0].message.content, ' Hello world!');
  assert.equal(r.choices[0].finish_reason, 'stop');
  const c = await client.completions.create({ model: 'fake', prompt: 'x', max_tokens: 8, stop: '!' });
  assert.equal(c.choices[0].text, ' Hello world');
  assert.equal(c.choices[0].finish_reason, 'stop');
});

test('chat logprobs', async () => {
  const r = await client.chat.completions.create({
    model: 'fake', messages: user, max_tokens: 2, logprobs: true, top_logprobs: 2,
  });
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, 2);
  assert.equal(content[0].token, ' Hello');
  assert.equal(content[0].logprob, -0.5);
  assert.deepEqual(content[0].bytes, [...Buffer.from(' Hello')]);
  assert.equal(content[0].top_logprobs.length, 2);
  assert.equal(content[0].top_logprobs[1].token, ' world');
  assert.equal(content[0].top_logprobs[1].logprob, -1.5);
  assert.deepEqual(content[0].top_logprobs[1].bytes, [...Buffer.from(' world')]);
});

test('completion with logprobs', async () => {
  const r = await client.completions.create({ model: 'fake', prompt: 'Once upon a time', max_tokens: 3, logprobs: 1 });
  assert.match(r.id, /^cmpl-/);
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, ' Hello world!');
  assert.equal(r.choices[0].finish_reason, 'length');
  const lp = r.choices[0].logprobs;
  assert.deepEqual(lp.tokens, [' Hello', ' world', '!']);
  assert.deepEqual(lp.token_logprobs, [-0.5, -0.5, -0.5]);
  assert.deepEqual(lp.text_offset, [0, 6, 12]);
  assert.deepEqual(lp.top_logprobs[0], { ' Hello': -0.5 });
  assert.equal(r.usage.completion_tokens, 3);
});

test('completion stream and batched prompts', async () => {
  const stream = await client.completions.create({ model: 'fake', prompt: 'Once', max_tokens: 3, stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'text_completion');
    text += chunk.choices[0].text;
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  assert.equal(text, ' Hello world!');
  assert.equal(finish, 'length');
  const batch = await client.completions.create({ model: 'fake', prompt: ['a', 'b'], max_tokens: 1, n: 2 });
  assert.deepEqual(batch.choices.map((c) => c.index), [0, 1, 2, 3]);
  assert.equal(batch.usage.completion_tokens, 4);
});

// Errors: each checked field by field.
async function rejects(promise, Class, status, fields) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof Class, `expected ${Class.name}, got ${err.constructor.name}: ${err.message}`);
    assert.equal(err.status, status);
    for (const [k, v] of Object.entries(fields)) {
      assert.equal(err[k], v, `${k}: ${err[k]} (message: ${err.message})`);
    }
    assert.ok(err.message.length > 0);
    return true;
  });
}

test('error: unknown model', () =>
  rejects(client.chat.completions.create({ model: 'nope', messages: user }), OpenAI.NotFoundError, 404,
    { type: 'invalid_request_error', code: 'model_not_found', param: null }));

test('error: parameter out of range', () =>
  rejects(client.chat.completions.create({ model: 'fake', messages: user, temperature: 5000 }), OpenAI.BadRequestError, 400,
    { type: 'invalid_request_error', param: 'temperature', code: null }));

test('error: context length', () =>
  rejects(client.chat.completions.create({ model: 'fake', messages: user, max_tokens: 100000 }), OpenAI.BadRequestError, 400,
    { type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' }));

test('error: bad API key', () => {
  const bad = new OpenAI({ baseURL: `${root}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
  return rejects(bad.models.list(), OpenAI.AuthenticationError, 401, { type: 'invalid_request_error', code: 'invalid_api_key' });
});

test('error: rate limit with Retry-After', async () => {
  const limited = new OpenAI({ baseURL: `${root}/v1`, apiKey: limitedKey, maxRetries: 0 });
  await limited.chat.completions.create({ model: 'fake', messages: user, max_tokens: 1 });
  await assert.rejects(limited.chat.completions.create({ model: 'fake', messages: user, max_tokens: 1 }), (err) => {
    assert.ok(err instanceof OpenAI.RateLimitError, err.constructor.name);
    assert.equal(err.status, 429);
    assert.equal(err.type, 'requests');
    assert.equal(err.code, 'rate_limit_exceeded');
    assert.ok(Number(err.headers.get('retry-after')) >= 1);
    return true;
  });
});

test('error: saturated', () =>
  rejects(client.chat.completions.create({ model: 'busy', messages: user }), OpenAI.InternalServerError, 503,
    { type: 'server_error', code: 'server_saturated' }));

test('error: bad stop type', () =>
  rejects(client.completions.create({ model: 'fake', prompt: 'x', stop: 5 }), OpenAI.BadRequestError, 400,
    { type: 'invalid_request_error', param: 'stop' }));

test('error: mid-stream engine failure surfaces as APIError', async () => {
  const stream = await client.chat.completions.create({ model: 'flaky', messages: user, max_tokens: 5, stream: true });
  let text = '';
  await assert.rejects(async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  }, (err) => {
    assert.ok(err instanceof OpenAI.APIError, err.constructor.name);
    assert.equal(err.type, 'server_error');
    assert.match(err.message, /device lost/);
    return true;
  });
  assert.equal(text, ' Hello');
});
