// The list of stored conversations: open one, start a new one, export one as JSON, delete one (after a
// confirmation). Titles are set with textContent.
import type { Conversation } from './store.ts';

export interface ListActions {
  open(id: string): void;
  export(id: string): void;
  remove(id: string): void;
}

export class ConversationList {
  constructor(
    private readonly list: HTMLUListElement,
    private readonly actions: ListActions,
  ) {}

  show(conversations: readonly Conversation[], currentId: string | null): void {
    this.list.replaceChildren(...conversations.map((c) => this.item(c, c.id === currentId)));
    if (conversations.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'note';
      empty.textContent = 'No saved conversations yet.';
      this.list.append(empty);
    }
  }

  private item(conversation: Conversation, current: boolean): HTMLLIElement {
    const item = document.createElement('li');
    const open = button('open', conversation.title, () => this.actions.open(conversation.id));
    if (current) open.setAttribute('aria-current', 'true');
    const when = new Date(conversation.updatedAt).toLocaleString();
    open.title = `${conversation.title} (${when})`;
    const exportButton = button('small', 'Export', () => this.actions.export(conversation.id));
    exportButton.setAttribute('aria-label', `Export “${conversation.title}” as JSON`);
    const remove = button('small danger', 'Delete', () => {
      if (confirm(`Delete the conversation “${conversation.title}”? This cannot be undone.`)) this.actions.remove(conversation.id);
    });
    remove.setAttribute('aria-label', `Delete “${conversation.title}”`);
    item.append(open, exportButton, remove);
    return item;
  }
}

function button(className: string, text: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = className;
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}
