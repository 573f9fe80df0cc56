import { Module } from '@nestjs/common';
import { fileURLToPath } from 'node:url';
import { WebController } from './web.controller.js';

/** public/ at the repository (or image) root, seen from apps/stream/dist/web/. */
export const PUBLIC_DIR = fileURLToPath(new URL('../../../../public', import.meta.url));

@Module({ controllers: [WebController] })
export class WebModule {}
