// Conversations of the chat page, kept in IndexedDB (idb-keyval store 'tar-chat'/'conversations', one record
// per conversation): text, the user's images and the drawn pictures as Blobs, so they survive a reload.
import { createStore, del, get, set, values, type UseStore } from 'idb-keyval';

export interface StoredMessage {
  id: string;
  role: 'user' | 'assistant';
  /** 'chat': a question or a streamed answer; 'draw': a picture request or the picture drawn for it. */
  kind: 'chat' | 'draw';
  text: string;
  /** The user's attached images, or (assistant, draw) the drawn PNGs. */
  images: Blob[];
  /** The answer was stopped before the model finished it. */
  stopped?: boolean;
  /** The seed a picture was drawn with. */
  seed?: number;
}

export interface Conversation {
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
  messages: StoredMessage[];
}

let store: UseStore | null = null;
function chatStore(): UseStore {
  store ??= createStore('tar-chat', 'conversations');
  return store;
}

export function newId(): string {
  return crypto.randomUUID();
}

export function newConversation(): Conversation {
  const now = Date.now();
  return { id: newId(), title: 'New conversation', createdAt: now, updatedAt: now, messages: [] };
}

/** A title from the first question: its first words, or a note that it was only images. */
export function titleFor(conversation: Conversation): string {
  const first = conversation.messages.find((m) => m.role === 'user');
  if (!first) return 'New conversation';
  const text = first.text.replace(/\s+/g, ' ').trim();
  if (text === '') return first.images.length > 0 ? 'Question about an image' : 'New conversation';
  return text.length > 48 ? `${text.slice(0, 47)}…` : text;
}

export async function saveConversation(conversation: Conversation): Promise<void> {
  conversation.updatedAt = Date.now();
  conversation.title = titleFor(conversation);
  await set(conversation.id, conversation, chatStore());
}

export function loadConversation(id: string): Promise<Conversation | undefined> {
  return get<Conversation>(id, chatStore());
}

/** Every conversation, the most recently changed first. */
export async function listConversations(): Promise<Conversation[]> {
  const all = await values<Conversation>(chatStore());
  return all.sort((a, b) => b.updatedAt - a.updatedAt);
}

export function deleteConversation(id: string): Promise<void> {
  return del(id, chatStore());
}
