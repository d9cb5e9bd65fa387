/**
 * `messenger-email/testing`: test an application that sends email with a real SMTP server on 127.0.0.1 that keeps
 * every message, and settings that point at it. Needs the `smtp-server` package (a development dependency).
 *
 * @packageDocumentation
 */

export {
  type CapturedMessage,
  type CaptureSink,
  type CaptureSinkLogin,
  type CaptureSinkOptions,
  decodeHeader,
  startCaptureSink,
  type WaitForOptions,
} from '../sink/capture.js';
export { CAPTURE_SENDER, captureSettings } from './capture-settings.js';
