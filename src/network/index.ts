export { nextSubnet, nextAddress, gatewayOf, DEFAULT_ADDR_POOL, DEFAULT_SUBNET_SIZE } from './ipam.js';
