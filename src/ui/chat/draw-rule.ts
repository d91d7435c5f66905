// The rule that turns a message into a picture request: the Draw toggle is on, or the message starts with
// "/draw" (any case). Everything else is a question for the chat.
export type ChatRequest = { kind: 'chat'; text: string } | { kind: 'draw'; prompt: string };

const DRAW_COMMAND = /^\s*\/draw(?:\s+|$)/i;

export function parseRequest(text: string, drawToggle: boolean): ChatRequest {
  const command = DRAW_COMMAND.exec(text);
  if (command) return { kind: 'draw', prompt: text.slice(command[0].length).trim() };
  if (drawToggle) return { kind: 'draw', prompt: text.trim() };
  return { kind: 'chat', text };
}
