export { nextSubnet, nextAddress, gatewayOf, overlaps, parseCidr, ipToInt, intToIp } from './ipam.js';
