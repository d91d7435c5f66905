// What the model sees: the conversation's questions and answers as ChatMessage[] (images as Blobs). Picture
// requests and drawn pictures stay out (the chat model reads images only in user turns; "Ask about this" on a
// drawn picture attaches it to a question), and so do answers with no text (stopped before any came, or ended
// by the model at once).
import type { ChatMessage } from '../../pipeline/options.ts';
import type { StoredMessage } from './store.ts';

export function chatMessages(messages: readonly StoredMessage[]): ChatMessage[] {
  return messages
    .filter((m) => m.kind === 'chat' && (m.text.trim() !== '' || m.images.length > 0))
    .map((m) => (m.role === 'user' ? { role: 'user', text: m.text, images: m.images } : { role: 'assistant', text: m.text }));
}
