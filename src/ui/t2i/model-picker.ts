// The model picker: the embedded default package, a package URL, or a package folder picked from this
// device (<input webkitdirectory>). It turns the choice into a ModelLocation for the engine host and a
// short name for the page; loading itself is the page's job.
import { DEFAULT_MODEL_URL } from '../engine-host.ts';
import type { ModelLocation } from '../../worker/protocol.ts';
import { byId } from './dom.ts';

export interface ModelChoice {
  location: ModelLocation;
  /** What the page calls it until the manifest names it. */
  label: string;
}

export const DEFAULT_CHOICE: ModelChoice = { location: { url: DEFAULT_MODEL_URL }, label: 'built-in Tar-Shapes model' };

type Kind = 'builtin' | 'url' | 'files';

export class ModelPicker {
  readonly section = byId('model-section', HTMLDetailsElement);
  private readonly form = byId('model-form', HTMLFormElement);
  private readonly url = byId('model-url', HTMLInputElement);
  private readonly files = byId('model-files', HTMLInputElement);
  private readonly urlRow = byId('model-url-row', HTMLDivElement);
  private readonly filesRow = byId('model-files-row', HTMLDivElement);
  private readonly load = byId('model-load', HTMLButtonElement);
  private readonly name = byId('model-name', HTMLSpanElement);
  private readonly info = byId('model-info', HTMLParagraphElement);

  constructor(onChoose: (choice: ModelChoice) => void) {
    this.form.addEventListener('change', () => this.showRows());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const choice = this.choice();
      if (choice) onChoose(choice);
    });
    this.showRows();
  }

  private kind(): Kind {
    return (new FormData(this.form).get('model-kind') as Kind | null) ?? 'builtin';
  }

  private showRows(): void {
    const kind = this.kind();
    this.urlRow.hidden = kind !== 'url';
    this.filesRow.hidden = kind !== 'files';
    this.url.required = kind === 'url';
    this.files.required = kind === 'files';
  }

  /** The chosen model, or null (with the browser's validation message shown) when the choice is incomplete. */
  private choice(): ModelChoice | null {
    if (!this.form.reportValidity()) return null;
    switch (this.kind()) {
      case 'builtin':
        return DEFAULT_CHOICE;
      case 'url':
        return { location: { url: new URL(this.url.value.trim(), location.href).href }, label: this.url.value.trim() };
      case 'files': {
        const files = [...(this.files.files ?? [])];
        const folder = (files[0] as (File & { webkitRelativePath?: string }) | undefined)?.webkitRelativePath?.split('/')[0];
        return { location: { files }, label: folder || `${files.length} local files` };
      }
    }
  }

  /** While a job runs the model cannot change. */
  setBusy(busy: boolean): void {
    this.load.disabled = busy;
  }

  /** The name in the section's summary and a line about the loaded model (or '' while none is loaded). */
  describe(name: string, info: string): void {
    this.name.textContent = name;
    this.info.textContent = info;
  }
}
