import { forwardingSuite } from './forwarding-suite.js';

forwardingSuite('http2');
