// The text-to-image page (index.html): loads the chosen model in the page's shared engine worker (the
// embedded default on arrival), then runs imagine() jobs from the prompt and settings, streaming progress and
// previews into the gallery. One job at a time; Cancel (or Escape) aborts it. Keyboard: Enter or Ctrl+Enter in
// the prompt generates, Shift+Enter is a new line.
import type { TarEngine } from '../../pipeline/engine.ts';
import { sharedEngine, type EngineHostListeners } from '../engine-host.ts';
import { isAbort } from '../errors-text.ts';
import { installPwa } from '../pwa.ts';
import { byId } from './dom.ts';
import { DownloadView } from './download-view.ts';
import { ErrorView } from './error-view.ts';
import { Gallery } from './gallery.ts';
import { DEFAULT_CHOICE, ModelPicker, type ModelChoice } from './model-picker.ts';
import { SettingsForm } from './settings.ts';

const form = byId('t2i-form', HTMLFormElement);
const prompt = byId('prompt', HTMLTextAreaElement);
const generateButton = byId('generate', HTMLButtonElement);
const cancelButton = byId('cancel', HTMLButtonElement);
const status = byId('status', HTMLParagraphElement);

const say = (message: string): void => {
  status.textContent = message;
};
const settings = new SettingsForm();
const downloads = new DownloadView(say);
const errors = new ErrorView();
const gallery = new Gallery(() => prompt.focus());
const picker = new ModelPicker((choice) => void load(choice));
const listeners: EngineHostListeners = {
  onDownload: (event) => downloads.onStorage(event),
  onLoad: (component, loaded, total) => downloads.onComponent(component, loaded, total),
};

let engine: TarEngine | null = null;
let loadTicket = 0;
let job: AbortController | null = null;

function updateButtons(): void {
  const running = job !== null;
  generateButton.disabled = running || engine === null;
  cancelButton.disabled = !running;
  picker.setBusy(running);
}

/** Keeps keyboard focus on the page when the focused button was just disabled. */
function keepFocus(): void {
  const active = document.activeElement;
  if (!active || active === document.body || (active instanceof HTMLButtonElement && active.disabled)) prompt.focus();
}

async function load(choice: ModelChoice): Promise<void> {
  const ticket = ++loadTicket;
  engine = null;
  settings.fieldset.disabled = true;
  updateButtons();
  errors.hide();
  downloads.reset();
  picker.describe(choice.label, '');
  say(`Loading ${choice.label}…`);
  try {
    const loaded = await sharedEngine(choice.location, listeners);
    if (ticket !== loadTicket) return;
    engine = loaded;
    settings.useModel(loaded.info.manifest);
    downloads.hide();
    const gpu = loaded.info.gpu.adapter;
    const where = [gpu.vendor, gpu.architecture].filter(Boolean).join(' ') || 'your GPU';
    picker.describe(loaded.info.modelId, `Ready on ${where}${gpu.isFallbackAdapter ? ' (a software fallback: slow)' : ''}.`);
    say(`${loaded.info.modelId} is ready. Type a prompt and press Enter.`);
  } catch (error) {
    if (ticket !== loadTicket) return;
    downloads.hide();
    errors.show(error, `Could not load ${choice.label}`);
    picker.section.open = true;
    say('No model is loaded.');
  } finally {
    if (ticket === loadTicket) updateButtons();
  }
}

async function generate(model: TarEngine): Promise<void> {
  const options = settings.read();
  const text = prompt.value.trim();
  const controller = new AbortController();
  const focusCancel = document.activeElement === generateButton;
  job = controller;
  updateButtons();
  if (focusCancel) cancelButton.focus();
  errors.hide();
  const cards = gallery.startJob(text, options.count, options.size);
  const what = options.count === 1 ? 'an image' : `${options.count} images`;
  say(`Generating ${what}…`);
  let finished = 0;
  const saved: Promise<void>[] = [];
  try {
    for await (const event of model.imagine({ ...options, prompt: text, signal: controller.signal })) {
      if (event.type === 'progress') cards.progress(event);
      else if (event.type === 'preview') cards.preview(event);
      else if (event.type === 'image') {
        saved.push(cards.finish(event));
        finished++;
        if (options.count > 1) say(`Image ${finished} of ${options.count} is done.`);
      } else {
        await Promise.all(saved);
        say(`Done: ${what} in ${(event.elapsedMs / 1000).toFixed(1)} s.`);
      }
    }
  } catch (error) {
    if (isAbort(error)) say(`Cancelled${finished > 0 ? ` after ${finished} of ${options.count} images` : ''}.`);
    else {
      errors.show(error, 'Could not generate');
      say('Generation failed.');
    }
  } finally {
    cards.dropUnfinished();
    gallery.update();
    job = null;
    updateButtons();
    keepFocus();
  }
}

function cancel(): void {
  if (!job) return;
  job.abort();
  say('Cancelling…');
}

prompt.addEventListener('input', () => prompt.setCustomValidity(prompt.value.trim() ? '' : 'Type what the image should show.'));
prompt.addEventListener('keydown', (event) => {
  if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  form.requestSubmit();
});
form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (job) return;
  if (!engine) say('The model is still loading; press Generate when it is ready.');
  else void generate(engine);
});
cancelButton.addEventListener('click', cancel);
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && job) cancel();
});

installPwa();
void load(DEFAULT_CHOICE);
