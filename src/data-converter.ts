/**
 * The data converter every Client and Worker of this project uses, so that an undecodable payload
 * (a signal from another service in another encoding, or bad JSON) reaches the handlers as a marker
 * instead of failing the workflow task (see workflows/payload-converter.ts). Bundles made with
 * bundleWorkflowCode need the same path (`payloadConverterPath`).
 */
import type { DataConverter } from '@temporalio/common';

export const PAYLOAD_CONVERTER_PATH = require.resolve('../workflows/payload-converter');

export const dataConverter: DataConverter = { payloadConverterPath: PAYLOAD_CONVERTER_PATH };
