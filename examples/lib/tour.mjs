// The same few calls every example makes, whatever the backend: that is the point of the library.
import { isStorageError } from 'nebula-credential';

/** Stores, reads, lists and deletes one credential through `store`, printing what happens. */
export async function tour(store) {
  await store.put('github_token', 'ghp_example_value', {
    tags: { team: 'platform' },
    rotationPolicy: { intervalDays: 90 },
  });
  const { secret, metadata, version } = await store.get('github_token');
  console.log(
    `github_token: ${secret.expose()} (created ${metadata.createdAt.toISOString()}, version ${version ?? '-'})`,
  );
  console.log(`printing the secret object shows ${secret}`);
  secret.dispose();

  console.log('team=platform:', await store.list({ tags: { team: 'platform' } }));
  console.log('capabilities:', store.provider.capabilities);
  await store.delete('github_token');
  try {
    await store.get('github_token');
  } catch (error) {
    if (!isStorageError(error, 'NotFound')) throw error;
    console.log(`after delete: ${error.code}`);
  }
}
