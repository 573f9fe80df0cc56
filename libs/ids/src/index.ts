export { isUuid } from './uuid.js';
