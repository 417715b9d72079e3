/** Where the worker's deployment version comes from (docs/DEPLOY.md): settings, the image's version, package.json. */
import { appSettings, ConfigError } from '../../src/config';
import { DEFAULT_WORKER_DEPLOYMENT_NAME } from '../../src/contract';
import { version as packageVersion } from '../../package.json';

test('by default the worker is versioned: deployment b2b-checkout, build id the version in package.json', () => {
  expect(appSettings({}).workerDeployment).toEqual({ deploymentName: DEFAULT_WORKER_DEPLOYMENT_NAME, buildId: packageVersion, setCurrent: undefined });
});

test("in an image the build id is the image's version (B2B_CHECKOUT_VERSION), and WORKER_BUILD_ID overrides both", () => {
  expect(appSettings({ B2B_CHECKOUT_VERSION: '1.4.0' }).workerDeployment?.buildId).toBe('1.4.0');
  // An image built without a VERSION build argument has it empty.
  expect(appSettings({ B2B_CHECKOUT_VERSION: '' }).workerDeployment?.buildId).toBe(packageVersion);
  expect(appSettings({ B2B_CHECKOUT_VERSION: '1.4.0', WORKER_BUILD_ID: '1.4.0+g1a2b3c' }).workerDeployment?.buildId).toBe('1.4.0+g1a2b3c');
});

test('WORKER_VERSIONING=off makes an unversioned worker; WORKER_SET_CURRENT and the deployment name are read as given', () => {
  expect(appSettings({ WORKER_VERSIONING: 'off' }).workerDeployment).toBeUndefined();
  expect(appSettings({ WORKER_DEPLOYMENT_NAME: 'checkout-eu', WORKER_SET_CURRENT: 'never' }).workerDeployment).toMatchObject({
    deploymentName: 'checkout-eu',
    setCurrent: 'never',
  });
});

test.each([
  { name: 'WORKER_DEPLOYMENT_NAME', value: 'b2b.checkout', what: 'a dot' },
  { name: 'WORKER_DEPLOYMENT_NAME', value: '-leading-dash', what: 'a leading dash' },
  { name: 'WORKER_BUILD_ID', value: 'with space', what: 'a space' },
  { name: 'WORKER_BUILD_ID', value: 'x'.repeat(201), what: '201 characters' },
  { name: 'WORKER_SET_CURRENT', value: 'yes', what: 'an unknown mode' },
  { name: 'WORKER_VERSIONING', value: 'true', what: 'neither on nor off' },
])('$name with $what is refused with INVALID_CONFIGURATION', ({ name, value }) => {
  const read = () => appSettings({ [name]: value });
  expect(read).toThrow(ConfigError);
  expect(read).toThrow(new RegExp(`^${name} `));
});
