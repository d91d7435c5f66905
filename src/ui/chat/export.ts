// Export of one conversation as a JSON file (images as data URLs), offered through a download link.
import type { Conversation } from './store.ts';

function dataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as string);
    reader.onerror = () => reject(reader.error ?? new Error('an image could not be read'));
    reader.readAsDataURL(blob);
  });
}

export async function conversationJson(conversation: Conversation): Promise<string> {
  const messages = await Promise.all(
    conversation.messages.map(async (m) => ({
      role: m.role,
      kind: m.kind,
      text: m.text,
      images: await Promise.all(m.images.map(dataUrl)),
      ...(m.stopped ? { stopped: true } : {}),
      ...(m.seed !== undefined ? { seed: m.seed } : {}),
    })),
  );
  const file = {
    format: 'tar-chat-conversation',
    version: 1,
    title: conversation.title,
    createdAt: new Date(conversation.createdAt).toISOString(),
    updatedAt: new Date(conversation.updatedAt).toISOString(),
    messages,
  };
  return JSON.stringify(file, null, 2);
}

function fileName(title: string): string {
  const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
  return `tar-chat-${slug || 'conversation'}.json`;
}

/** Saves the conversation as a .json file through a temporary download link. */
export async function downloadConversation(conversation: Conversation): Promise<void> {
  const url = URL.createObjectURL(new Blob([await conversationJson(conversation)], { type: 'application/json' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName(conversation.title);
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
