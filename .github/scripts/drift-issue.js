// Keep one open issue per environment while its portal drifts: open or update it on drift,
// close it (with a comment) once the portal matches the file again.
// Used by actions/github-script: require('./.github/scripts/drift-issue.js')({github, context, core}, {...})

module.exports = async ({ github, context, core }, { status, body, environment = '', label = 'drift' }) => {
  const { owner, repo } = context.repo;
  const title = `HubSpot portal drift${environment ? ` (${environment})` : ''}`;
  const open = await github.paginate(github.rest.issues.listForRepo, {
    owner, repo, state: 'open', labels: label, per_page: 100,
  });
  const issue = open.find((i) => i.title === title && !i.pull_request);
  const run = `${context.serverUrl}/${owner}/${repo}/actions/runs/${context.runId}`;

  if (status === 'drift') {
    const text = `${body}\n\n_Updated by the nightly drift check ([run](${run}))._\n`;
    if (issue) {
      await github.rest.issues.update({ owner, repo, issue_number: issue.number, body: text });
      core.info(`Updated issue #${issue.number}`);
      return { action: 'updated', number: issue.number };
    }
    const { data } = await github.rest.issues.create({ owner, repo, title, body: text, labels: [label] });
    core.info(`Opened issue #${data.number}`);
    return { action: 'opened', number: data.number };
  }
  if (status === 'clean') {
    if (!issue) {
      return { action: 'none' };
    }
    await github.rest.issues.createComment({
      owner, repo, issue_number: issue.number,
      body: `The portal matches the file again ([run](${run})); closing.\n\n${body}`,
    });
    await github.rest.issues.update({ owner, repo, issue_number: issue.number, state: 'closed', state_reason: 'completed' });
    core.info(`Closed issue #${issue.number}`);
    return { action: 'closed', number: issue.number };
  }
  throw new Error(`unknown drift status ${JSON.stringify(status)}`);
};
