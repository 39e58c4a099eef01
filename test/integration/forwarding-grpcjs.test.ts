import { forwardingSuite } from './forwarding-suite.js';

forwardingSuite('grpc-js');
