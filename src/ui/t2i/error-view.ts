// The page's error box (role="alert"): what went wrong and what to do, in plain words (errors-text.ts),
// with the engine's own message as a detail line.
import { explainError } from '../errors-text.ts';
import { byId } from './dom.ts';

export class ErrorView {
  private readonly box = byId('error', HTMLDivElement);
  private readonly title = byId('error-title', HTMLParagraphElement);
  private readonly action = byId('error-action', HTMLParagraphElement);
  private readonly detail = byId('error-detail', HTMLParagraphElement);

  show(error: unknown, context: string): void {
    const text = explainError(error);
    this.title.textContent = `${context}: ${text.title}`;
    this.action.textContent = text.action;
    this.detail.textContent = text.detail ? `Details: ${text.detail}` : '';
    this.detail.hidden = !text.detail;
    this.box.hidden = false;
    this.box.scrollIntoView({ block: 'nearest' });
  }

  hide(): void {
    this.box.hidden = true;
  }
}
