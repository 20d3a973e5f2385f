/** `rcpt doctor` on the library side: can this machine verify, before it burns its reputation? */
export {
  runDoctor,
  DEFAULT_DOCTOR_PROVIDERS,
  DOCTOR_CONNECT_TIMEOUT_MS,
  DOCTOR_DNS_TIMEOUT_MS,
  DOCTOR_GREETING_TIMEOUT_MS,
  type DoctorOptions,
} from './run-doctor.js';
export { DEFAULT_BLOCKLISTS } from './blocklists.js';
export {
  DOCTOR_CHECK_IDS,
  type DoctorCheck,
  type DoctorCheckId,
  type DoctorOrigin,
  type DoctorReport,
  type DoctorStatus,
} from './report.js';
