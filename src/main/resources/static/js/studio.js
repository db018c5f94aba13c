// The studio page: make a video, watch the queue live, play and reproduce results, manage LoRAs,
// train one. Plain DOM, no framework; every call goes through api.js.
import { ApiError, apiKey, call, follow, setApiKey, withKey } from './api.js';

const $ = (id) => document.getElementById(id);
const ACTIVE = new Set(['queued', 'in_progress']);
const PREVIEW_MODEL = 'wan2.1-t2v-preview';
const RECIPE_NEGATIVE = $('recipe-negative').textContent.trim();
const REQUEST_FIELDS = ['prompt', 'negative_prompt', 'size', 'frames', 'fps', 'steps', 'shift', 'seed', 'sampler', 'guidance', 'loras'];

const jobs = new Map();       // video id -> video object
const following = new Map();  // job id -> stop function
let selected = null;
let defaultLoras = new Map(); // name -> strength (the served model's defaults)

function showError(e) {
  const box = $('error');
  if (!e) { box.hidden = true; return; }
  let text = e instanceof ApiError ? e.message : String(e.message || e);
  if (e instanceof ApiError && e.problem.errors) text += ' (' + e.problem.errors.map((f) => f.field).join(', ') + ')';
  if (e instanceof ApiError && e.status === 401) text += ' Enter the server\'s API key at the top.';
  box.textContent = text;
  box.hidden = false;
}
const num = (id) => { const v = $(id).value.trim(); return v === '' ? undefined : Number(v); };
const fmtEta = (s) => s == null ? '' : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;

// ---- the API key ----
$('api-key').value = apiKey();
$('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  setApiKey($('api-key').value.trim());
  $('key-state').textContent = apiKey() ? 'Key saved in this browser.' : 'No key.';
  loadAll();
});

// ---- Make ----
function syncGuidance() {
  const g = $('guidance').value;
  $('scale-label').hidden = g === 'none';
  $('tau-label').hidden = $('alpha-label').hidden = g !== 'nag';
  if (g === 'cfg' && $('guidance-scale').value === '11') $('guidance-scale').value = '5';
  if (g === 'nag' && $('guidance-scale').value === '5') $('guidance-scale').value = '11';
}
$('guidance').addEventListener('change', syncGuidance);
$('length-unit').addEventListener('change', () => {
  const secs = $('length-unit').value === 'seconds';
  $('seconds-label').hidden = !secs;
  $('frames-label').hidden = secs;
});

function requestBody() {
  const body = { prompt: $('prompt').value, size: `${num('width')}x${num('height')}` };
  if ($('negative').value.trim()) body.negative_prompt = $('negative').value.trim();
  if ($('length-unit').value === 'seconds') body.seconds = num('seconds'); else body.frames = num('frames');
  for (const [field, id] of [['fps', 'fps'], ['steps', 'steps'], ['shift', 'shift'], ['seed', 'seed']])
    if (num(id) !== undefined) body[field] = num(id);
  const g = $('guidance').value;
  body.guidance = g === 'nag' ? { type: 'nag', scale: num('guidance-scale'), tau: num('nag-tau'), alpha: num('nag-alpha') }
    : g === 'cfg' ? { type: 'cfg', scale: num('guidance-scale') } : { type: 'none' };
  const rows = [...document.querySelectorAll('#lora-stack li')];
  if (rows.length) body.loras = rows.filter((li) => li.querySelector('input[type=checkbox]').checked)
    .map((li) => ({ name: li.dataset.name, strength: Number(li.querySelector('input[type=number]').value) }));
  if ($('enhance-on-submit').checked) body.enhance_prompt = true;
  return body;
}

$('make-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError(null);
  $('submit').disabled = true;
  $('submit-state').textContent = 'Sending…';
  try {
    const video = await call('/v1/videos', { method: 'POST', json: requestBody() });
    $('submit-state').textContent = `Queued ${video.id}`;
    upsertJob(video);
    select(video.id);
  } catch (e) {
    $('submit-state').textContent = '';
    showError(e);
  } finally {
    $('submit').disabled = false;
  }
});

function enhancerOff(message) {
  $('enhance').disabled = true;
  $('enhance').hidden = true;
  $('enhance-on-submit').checked = false;
  $('enhance-on-submit').disabled = true;
  $('enhance-state').textContent = message;
}
$('enhance').addEventListener('click', async () => {
  showError(null);
  $('enhance').disabled = true;
  $('enhance-state').textContent = 'Enhancing…';
  try {
    const r = await call('/v1/prompts/enhance', { method: 'POST', json: { prompt: $('prompt').value } });
    $('enhanced').value = r.enhanced_prompt;
    $('enhanced-box').hidden = false;
    $('enhance-state').textContent = 'Read the enhanced prompt below; use it or keep yours.';
    $('enhance').disabled = false;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || (e.status === 503 && e.type.endsWith('prompt-enhancer-off'))))
      enhancerOff('Prompt enhancement is not switched on on this server' + (e.message ? `: ${e.message}` : '.'));
    else { $('enhance-state').textContent = ''; $('enhance').disabled = false; showError(e); }
  }
});
$('use-enhanced').addEventListener('click', () => { $('prompt').value = $('enhanced').value; $('enhanced-box').hidden = true; $('prompt').focus(); });

// ---- LoRAs ----
async function loadLoras() {
  const list = await call('/v1/loras');
  const stack = $('lora-stack'), table = $('lora-table');
  const previous = new Map([...stack.querySelectorAll('li')].map((li) => [li.dataset.name,
    { on: li.querySelector('input[type=checkbox]').checked, strength: li.querySelector('input[type=number]').value }]));
  stack.replaceChildren();
  table.replaceChildren();
  for (const l of list.data) {
    const li = document.createElement('li');
    li.dataset.name = l.name;
    const prev = previous.get(l.name);
    const on = prev ? prev.on : defaultLoras.has(l.name);
    const strength = prev ? prev.strength : String(defaultLoras.get(l.name) ?? 1);
    const idBase = `lora-use-${l.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    li.innerHTML = `<input type="checkbox" id="${idBase}"><label class="check" for="${idBase}"></label>`
      + `<label class="check" for="${idBase}-s">strength</label><input type="number" id="${idBase}-s" step="0.05" min="-4" max="4">`;
    li.querySelector('label').textContent = l.name + (l.default ? ' (recipe default)' : '');
    li.querySelector('input[type=checkbox]').checked = on;
    li.querySelector('input[type=number]').value = strength;
    stack.append(li);

    const tr = document.createElement('tr');
    tr.dataset.name = l.name;
    tr.innerHTML = '<td></td><td></td><td></td>';
    tr.cells[0].textContent = l.name;
    tr.cells[1].textContent = `${(l.size_bytes / 1048576).toFixed(1)} MiB`;
    const del = document.createElement('button');
    del.type = 'button';
    del.textContent = 'Delete';
    del.setAttribute('aria-label', `Delete LoRA ${l.name}`);
    del.disabled = !!l.default;
    del.addEventListener('click', async () => {
      if (!confirm(`Delete the LoRA ${l.name}?`)) return;
      try { await call(`/v1/loras/${encodeURIComponent(l.name)}`, { method: 'DELETE' }); await loadLoras(); } catch (e) { showError(e); }
    });
    tr.cells[2].append(del);
    table.append(tr);
  }
  $('lora-stack-empty').hidden = list.data.length > 0;
}
$('lora-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError(null);
  const form = new FormData();
  form.append('name', $('lora-name').value.trim());
  form.append('file', $('lora-file').files[0]);
  $('lora-state').textContent = 'Uploading…';
  try {
    const l = await call('/v1/loras', { method: 'POST', form });
    $('lora-state').textContent = `Uploaded ${l.name}.`;
    $('lora-form').reset();
    await loadLoras();
  } catch (e) { $('lora-state').textContent = ''; showError(e); }
});

// ---- Watch ----
function describe(v) {
  const parts = [v.status.replace('_', ' ')];
  if (v.status === 'queued' && v.queue_position != null) parts.push(`position ${v.queue_position} in the queue`);
  if (v.status === 'in_progress') {
    if (v.stage) parts.push(v.stage);
    if (v.total_steps) parts.push(`step ${v.step} of ${v.total_steps}`);
  }
  if (ACTIVE.has(v.status) && v.eta_seconds != null) parts.push(`ETA ${fmtEta(v.eta_seconds)}`);
  if (v.error && v.error.message) parts.push(v.error.message);
  return parts.join(' · ');
}

/** The list, updated in place (an item keeps its elements, so focus stays on a button while events arrive). */
function renderJobs() {
  const ol = $('jobs');
  const list = [...jobs.values()].sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1));
  const items = new Map([...ol.children].map((li) => [li.dataset.id, li]));
  list.forEach((v, i) => {
    let li = items.get(v.id);
    if (!li) {
      li = document.createElement('li');
      li.dataset.id = v.id;
      const open = document.createElement('button');
      open.type = 'button';
      open.className = 'open';
      open.textContent = (v.prompt || v.id).slice(0, 60);
      open.setAttribute('aria-label', `Open video ${v.id}`);
      open.addEventListener('click', () => select(v.id));
      const status = document.createElement('span');
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.className = 'cancel';
      cancel.textContent = 'Cancel';
      cancel.setAttribute('aria-label', `Cancel video ${v.id}`);
      cancel.addEventListener('click', () => cancelJob(v.id));
      li.append(open, status, cancel);
    }
    if (ol.children[i] !== li) ol.insertBefore(li, ol.children[i] || null);
    li.dataset.status = v.status;
    const status = li.querySelector('span');
    status.className = `job-status status-${v.status}`;
    status.textContent = ' ' + describe(v);
    li.querySelector('button.cancel').hidden = !ACTIVE.has(v.status);
  });
}

async function cancelJob(id) {
  try { upsertJob(await call(`/v1/videos/${id}/cancel`, { method: 'POST' })); } catch (e) { showError(e); }
}

function upsertJob(v) {
  jobs.set(v.id, v);
  if (ACTIVE.has(v.status) && !following.has(v.id)) watch(v.id);
  renderJobs();
  if (selected === v.id) renderSelected();
}

async function refreshJob(id) {
  try { upsertJob(await call(`/v1/videos/${id}`)); } catch (e) { if (!(e instanceof ApiError && e.status === 404)) showError(e); }
}

function watch(id) {
  const stop = follow(`/v1/videos/${id}/events`, (e) => {
    const v = jobs.get(id);
    if (!v) return;
    const d = e.data || {};
    if (e.type === 'progress') {
      Object.assign(v, { status: 'in_progress', stage: d.stage ?? v.stage, step: d.step ?? v.step, total_steps: d.total_steps ?? v.total_steps,
        eta_seconds: d.eta_seconds ?? v.eta_seconds, progress: d.progress ?? v.progress, queue_position: null });
      renderJobs();
      if (selected === id) renderSelected();
    } else if (e.type === 'preview') {
      if (selected === id) showPreview(d, e.seq);
    } else refreshJob(id);
  }, () => { following.delete(id); refreshJob(id); });
  following.set(id, stop);
}

function showPreview(d, seq) {
  if (!d.url) return;
  const img = $('live-img');
  img.src = withKey(d.url, { v: String(seq) });
  img.dataset.seq = String(seq);
  $('live-caption').textContent = `Preview at step ${d.step} of ${d.total_steps}` + (d.frames ? ` (${d.frames} frames, ${d.width}×${d.height})` : '');
  $('live').hidden = false;
}

function select(id) {
  selected = id;
  $('live').hidden = true;
  $('live-img').removeAttribute('src');
  $('player').removeAttribute('src');
  delete $('player').dataset.id;
  renderSelected();
  $('job').hidden = false;
}

function reproducible(v) {
  const r = v.request || {};
  const body = {};
  for (const f of REQUEST_FIELDS) if (r[f] !== undefined && r[f] !== null) body[f] = r[f];
  if (typeof body.negative_prompt === 'string') {
    const extra = body.negative_prompt.startsWith(RECIPE_NEGATIVE) ? body.negative_prompt.slice(RECIPE_NEGATIVE.length).replace(/^,\s*/, '') : body.negative_prompt;
    if (extra) body.negative_prompt = extra; else delete body.negative_prompt;
  }
  if (!Object.keys(body).length) body.prompt = v.prompt;
  return body;
}
const base = () => `${location.origin}`;
function curlOf(v) {
  const json = JSON.stringify(reproducible(v)).replaceAll("'", "'\\''");
  return `curl -s -X POST ${base()}/v1/videos \\\n  -H "Authorization: Bearer $KAZE_API_KEY" -H 'content-type: application/json' \\\n  -d '${json}'`;
}
/** A JSON value as a Python literal. */
function python(x) {
  if (x === null || x === undefined) return 'None';
  if (x === true) return 'True';
  if (x === false) return 'False';
  if (Array.isArray(x)) return `[${x.map(python).join(', ')}]`;
  if (typeof x === 'object') return `{${Object.entries(x).map(([k, v]) => `${JSON.stringify(k)}: ${python(v)}`).join(', ')}}`;
  return JSON.stringify(x);
}
function sdkOf(v) {
  const b = reproducible(v);
  const { prompt, size, ...extra } = b;
  return ['import os', 'from openai import OpenAI', '',
    `client = OpenAI(base_url="${base()}/v1", api_key=os.environ["KAZE_API_KEY"])`,
    `video = client.videos.create_and_poll(model="kaze", prompt=${JSON.stringify(prompt)}, size=${JSON.stringify(size)},`,
    `    extra_body=${python(extra)})`,
    'client.videos.download_content(video.id).write_to_file("video.mp4")'].join('\n');
}
async function copy(text) {
  $('snippet').value = text;
  try { await navigator.clipboard.writeText(text); } catch { $('snippet').select(); }
}
$('copy-curl').addEventListener('click', () => { const v = jobs.get(selected); if (v) copy(curlOf(v)); });
$('copy-sdk').addEventListener('click', () => { const v = jobs.get(selected); if (v) copy(sdkOf(v)); });
$('job-cancel').addEventListener('click', () => selected && cancelJob(selected));

function renderSelected() {
  const v = jobs.get(selected);
  if (!v) return;
  $('job-id').textContent = v.id;
  $('job-status').textContent = describe(v);
  $('job-status').dataset.status = v.status;
  $('job-progress').value = v.progress || 0;
  $('job-preview-note').hidden = v.model !== PREVIEW_MODEL;
  $('job-cancel').hidden = !ACTIVE.has(v.status);
  $('manifest').textContent = JSON.stringify(v.request || {}, null, 2);
  const done = v.status === 'completed';
  $('result').hidden = !done;
  if (done && $('player').dataset.id !== v.id) {
    $('player').dataset.id = v.id;
    $('player').src = withKey(`/v1/videos/${v.id}/content`);
    $('download').href = withKey(`/v1/videos/${v.id}/content`);
    $('download').setAttribute('download', `${v.id}.mp4`);
    $('live').hidden = true;
  }
}

async function loadJobs() {
  const page = await call('/v1/videos?limit=50');
  for (const v of page.data) upsertJob(v);
}
$('refresh-jobs').addEventListener('click', () => loadJobs().catch(showError));
// queue positions move without events of one's own job: refresh the queued ones now and then
setInterval(() => { for (const v of jobs.values()) if (v.status === 'queued') refreshJob(v.id); }, 3000);

// ---- Training ----
const trainings = new Map();
let selectedTraining = null, stopTraining = null, loss = [];

$('train-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError(null);
  let args = { network_dim: num('network-dim'), network_alpha: num('network-alpha'), learning_rate: num('learning-rate'),
    max_train_steps: num('max-train-steps'), seed: num('train-seed'), save_every_n_steps: num('save-every'), sample_every_n_steps: num('sample-every') };
  const prompts = $('sample-prompts').value.split('\n').map((s) => s.trim()).filter(Boolean);
  if (prompts.length) args.sample_prompts = prompts;
  if ($('extra-args').value.trim()) {
    try { args = { ...args, ...JSON.parse($('extra-args').value) }; } catch { showError(new Error('More arguments: not a JSON object')); return; }
  }
  for (const k of Object.keys(args)) if (args[k] === undefined) delete args[k];
  const form = new FormData();
  form.append('dataset', $('dataset').files[0]);
  if ($('dataset-config').value.trim()) form.append('dataset_config', $('dataset-config').value);
  form.append('args', JSON.stringify(args));
  form.append('lora_name', $('train-lora-name').value.trim());
  if ($('register-checkpoints').checked) form.append('register_checkpoints', 'true');
  $('train-state').textContent = 'Uploading…';
  try {
    const t = await call('/v1/trainings', { method: 'POST', form });
    $('train-state').textContent = `Queued ${t.id}`;
    trainings.set(t.id, t);
    renderTrainings();
    selectTraining(t.id);
  } catch (e) { $('train-state').textContent = ''; showError(e); }
});

function renderTrainings() {
  const ol = $('trainings');
  ol.replaceChildren();
  for (const t of [...trainings.values()].sort((a, b) => b.created_at - a.created_at)) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `${t.lora_name || t.id}`;
    b.setAttribute('aria-label', `Open training ${t.id}`);
    b.addEventListener('click', () => selectTraining(t.id));
    const s = document.createElement('span');
    s.className = `status-${t.status}`;
    s.textContent = ` ${t.status}`;
    li.append(b, s);
    ol.append(li);
  }
}

function drawLoss() {
  const svg = $('loss-chart');
  svg.dataset.points = String(loss.length);
  if (!loss.length) {
    for (const id of ['loss-line', 'avg-line']) $(id).setAttribute('points', '');
    $('loss-max').textContent = $('loss-min').textContent = '';
    return;
  }
  const vals = loss.flatMap((p) => [p.loss, p.avg]).filter(Number.isFinite);
  const lo = Math.min(...vals), hi = Math.max(...vals), span = hi - lo || 1;
  const maxStep = Math.max(...loss.map((p) => p.step), 1);
  const pt = (step, y) => `${(8 + (384 * step) / maxStep).toFixed(1)},${(152 - (144 * (y - lo)) / span).toFixed(1)}`;
  $('loss-line').setAttribute('points', loss.map((p) => pt(p.step, p.loss)).join(' '));
  $('avg-line').setAttribute('points', loss.map((p) => pt(p.step, p.avg)).join(' '));
  $('loss-max').textContent = hi.toPrecision(3);
  $('loss-min').textContent = lo.toPrecision(3);
  const last = loss[loss.length - 1];
  $('loss-caption').textContent = `Loss per step (avg dashed): step ${last.step}, loss ${last.loss.toFixed(4)}, avg ${last.avg.toFixed(4)}`;
}

function addCheckpoint(t, d) {
  if (d.kind !== 'lora') return;
  const li = document.createElement('li');
  const a = document.createElement('a');
  a.href = withKey(d.url);
  a.textContent = d.file;
  li.append(a);
  if (d.lora_name) li.append(` (LoRA ${d.lora_name})`);
  else {
    const name = document.createElement('input');
    name.value = `${t.lora_name || 'lora'}-${(d.file.match(/(\d+)\.safetensors$/) || ['', 'final'])[1].replace(/^0+/, '') || 'final'}`;
    name.setAttribute('aria-label', `LoRA name for ${d.file}`);
    name.style.width = '12rem';
    const reg = document.createElement('button');
    reg.type = 'button';
    reg.textContent = 'Register as LoRA';
    reg.addEventListener('click', async () => {
      try {
        await call(`/v1/trainings/${t.id}/loras`, { method: 'POST', json: { file: d.file, name: name.value.trim() } });
        reg.disabled = true;
        reg.textContent = 'Registered';
        await loadLoras();
      } catch (e) { showError(e); }
    });
    li.append(name, reg);
  }
  $('checkpoints').append(li);
}

function selectTraining(id) {
  if (stopTraining) stopTraining();
  selectedTraining = id;
  loss = [];
  drawLoss();
  $('checkpoints').replaceChildren();
  $('samples').replaceChildren();
  $('train').hidden = false;
  $('train-id').textContent = id;
  const t = trainings.get(id);
  const show = () => {
    const x = trainings.get(id);
    $('train-status').textContent = [x.status.replace('_', ' '), x.stage, x.total_steps ? `step ${x.step} of ${x.total_steps}` : '']
      .filter(Boolean).join(' · ') + (x.error && x.error.message ? ` · ${x.error.message}` : '');
    $('train-status').dataset.status = x.status;
    $('train-progress').value = x.progress || 0;
    $('train-cancel').hidden = !ACTIVE.has(x.status);
  };
  show();
  stopTraining = follow(`/v1/trainings/${id}/events`, async (e) => {
    const d = e.data || {};
    const x = trainings.get(id);
    if (e.type === 'progress') {
      Object.assign(x, { status: 'in_progress', stage: d.stage, step: d.step, total_steps: d.total_steps, progress: d.progress });
      if (Number.isFinite(d.loss)) { loss.push({ step: d.step, loss: d.loss, avg: Number.isFinite(d.avg_loss) ? d.avg_loss : d.loss }); drawLoss(); }
    } else if (e.type === 'checkpoint') addCheckpoint(x, d);
    else if (e.type === 'sample' && d.url) {
      const fig = document.createElement('figure');
      const vid = document.createElement('video');
      vid.controls = true; vid.muted = true; vid.loop = true; vid.src = withKey(d.url);
      const cap = document.createElement('figcaption');
      cap.textContent = `Sample at step ${d.step}`;
      fig.append(vid, cap);
      $('samples').append(fig);
    } else {
      try { trainings.set(id, await call(`/v1/trainings/${id}`)); } catch (err) { showError(err); }
      renderTrainings();
      if (e.type === 'completed') loadLoras().catch(showError);
    }
    if (selectedTraining === id) show();
  });
  if (!t) return;
}
$('train-cancel').addEventListener('click', async () => {
  try { trainings.set(selectedTraining, await call(`/v1/trainings/${selectedTraining}/cancel`, { method: 'POST' })); renderTrainings(); } catch (e) { showError(e); }
});
async function loadTrainings() {
  const page = await call('/v1/trainings?limit=20');
  for (const t of page.data) trainings.set(t.id, t);
  renderTrainings();
}

// ---- start ----
async function loadModel() {
  const m = await call('/v1/models');
  const active = m.active_model || {};
  $('preview-notice').hidden = !(active.preview || active.id === PREVIEW_MODEL);
  defaultLoras = new Map((active.default_loras || []).map((l) => [l.name, l.strength]));
}
async function loadAll() {
  showError(null);
  try {
    await loadModel();
    await Promise.all([loadLoras(), loadJobs(), loadTrainings()]);
    document.body.dataset.ready = 'true';
  } catch (e) { showError(e); document.body.dataset.ready = 'error'; }
}
syncGuidance();
loadAll();
