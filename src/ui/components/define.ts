// Registers the Tar custom elements (once; a second call, or a second copy of the library, is harmless) and
// types them for document.createElement / querySelector and for addEventListener with typed details.
import type { TarImageChatEventMap, TarTextToImageEventMap } from './events.ts';
import { TarImageChat } from './image-chat.ts';
import { TarTextToImage } from './text-to-image.ts';

export function defineTarElements(): void {
  if (!customElements.get('tar-text-to-image')) customElements.define('tar-text-to-image', TarTextToImage);
  if (!customElements.get('tar-image-chat')) customElements.define('tar-image-chat', TarImageChat);
}

type Listener<T, E> = (this: T, event: E) => unknown;

declare module './text-to-image.ts' {
  interface TarTextToImage {
    addEventListener<K extends keyof TarTextToImageEventMap>(type: K, listener: Listener<TarTextToImage, TarTextToImageEventMap[K]>, options?: boolean | AddEventListenerOptions): void;
    addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
    removeEventListener<K extends keyof TarTextToImageEventMap>(type: K, listener: Listener<TarTextToImage, TarTextToImageEventMap[K]>, options?: boolean | EventListenerOptions): void;
    removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
  }
}

declare module './image-chat.ts' {
  interface TarImageChat {
    addEventListener<K extends keyof TarImageChatEventMap>(type: K, listener: Listener<TarImageChat, TarImageChatEventMap[K]>, options?: boolean | AddEventListenerOptions): void;
    addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
    removeEventListener<K extends keyof TarImageChatEventMap>(type: K, listener: Listener<TarImageChat, TarImageChatEventMap[K]>, options?: boolean | EventListenerOptions): void;
    removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tar-text-to-image': TarTextToImage;
    'tar-image-chat': TarImageChat;
  }
}
