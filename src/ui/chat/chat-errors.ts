// Chat-page wording on top of the shared error texts: a conversation that no longer fits the model's context
// is not a bad setting, it needs a new conversation.
import { explainError, type ErrorText } from '../errors-text.ts';

export function chatErrorText(error: unknown): string {
  const detail = (error as { message?: string } | null)?.message ?? '';
  const text: ErrorText =
    (error as { name?: string } | null)?.name === 'InvalidArgumentError' && /exceed the context|contextLength|positions/.test(detail)
      ? { title: 'This conversation is too long for the model to read at once.', action: 'Start a new conversation, or ask for a shorter answer in Settings.', detail }
      : explainError(error);
  return [text.title, text.action, text.detail && `(${text.detail})`].filter(Boolean).join(' ');
}
