// Component tests run against databases of their own (trackops_<service>_ct): same migrations and roles as the
// live ones, but no Debezium connector, relay or running service touches them, so nothing a test writes is
// published or acted on by the running system. Recreated at the start of every test run.
import { componentDbName, testEnv } from './env.ts'
import { recreateServiceDatabases } from './service-databases.ts'

const services = ['orders', 'inventory', 'payments'] as const

export default async function setup() {
  await recreateServiceDatabases(services.map((service) => ({ service, name: componentDbName(service), url: testEnv.componentDbs[service] })))
}
