// The images waiting in the composer: added by dropping files on the drop zone, pasting, or the file picker;
// shown as thumbnails, each with a remove button. Non-image files are refused with a message.
export class Attachments {
  private images: Blob[] = [];
  /** One object URL per attached Blob, kept while it is shown (revoking one that is still loading fails). */
  private urls = new Map<Blob, string>();

  constructor(
    private readonly list: HTMLUListElement,
    private readonly onMessage: (text: string) => void,
    private readonly fallbackFocus: HTMLElement,
  ) {}

  get blobs(): Blob[] {
    return [...this.images];
  }

  /** Wires the drop zone (drag and drop), the file input and paste anywhere on the page. */
  listen(dropZone: HTMLElement, fileInput: HTMLInputElement): void {
    dropZone.addEventListener('dragover', (event) => {
      if (!event.dataTransfer?.types.includes('Files')) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      dropZone.classList.add('dragging');
    });
    dropZone.addEventListener('dragleave', (event) => {
      if (!dropZone.contains(event.relatedTarget as Node | null)) dropZone.classList.remove('dragging');
    });
    dropZone.addEventListener('drop', (event) => {
      event.preventDefault();
      dropZone.classList.remove('dragging');
      this.add([...(event.dataTransfer?.files ?? [])]);
    });
    fileInput.addEventListener('change', () => {
      this.add([...(fileInput.files ?? [])]);
      fileInput.value = '';
    });
    document.addEventListener('paste', (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (files.length === 0) return;
      event.preventDefault();
      this.add(files);
    });
  }

  add(files: Blob[]): void {
    const images = files.filter((f) => f.type.startsWith('image/'));
    const refused = files.length - images.length;
    this.images.push(...images);
    if (images.length > 0) this.render();
    const attached = `${this.images.length} image${this.images.length === 1 ? '' : 's'} attached.`;
    this.onMessage(refused > 0 ? `${refused === 1 ? 'One file is' : `${refused} files are`} not an image and left out. ${attached}` : attached);
  }

  clear(): void {
    this.images = [];
    this.render();
  }

  private remove(index: number): void {
    this.images.splice(index, 1);
    this.render();
    const buttons = this.list.querySelectorAll('button');
    (buttons[Math.min(index, buttons.length - 1)] ?? this.fallbackFocus).focus();
    this.onMessage(`Image removed; ${this.images.length} attached.`);
  }

  private render(): void {
    for (const [blob, url] of this.urls) {
      if (!this.images.includes(blob)) {
        URL.revokeObjectURL(url);
        this.urls.delete(blob);
      }
    }
    for (const blob of this.images) if (!this.urls.has(blob)) this.urls.set(blob, URL.createObjectURL(blob));
    this.list.replaceChildren(
      ...this.images.map((blob, i) => {
        const item = document.createElement('li');
        const img = document.createElement('img');
        img.src = this.urls.get(blob) as string;
        img.alt = `Attached image ${i + 1}${blob instanceof File && blob.name ? `: ${blob.name}` : ''}`;
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'remove';
        remove.textContent = '×';
        remove.setAttribute('aria-label', `Remove image ${i + 1}`);
        remove.addEventListener('click', () => this.remove(i));
        item.append(img, remove);
        return item;
      }),
    );
    this.list.hidden = this.images.length === 0;
  }
}
