// One pull-request comment, updated in place: found again by a hidden marker in its body.
// Used by actions/github-script: require('./.github/scripts/upsert-comment.js')({github, context, core}, {...})

const DEFAULT_MARKER = '<!-- provisioner-plan -->';
const LIMIT = 65536; // GitHub's limit on a comment body

module.exports = async ({ github, context, core }, { body, marker = DEFAULT_MARKER }) => {
  const { owner, repo } = context.repo;
  const issue_number = context.issue.number;
  let text = `${marker}\n${body}`;
  if (text.length > LIMIT) {
    const cut = '\n\n_Cut to fit one comment; the full plan is in the job\'s artifacts._\n';
    text = text.slice(0, LIMIT - cut.length) + cut;
  }
  const comments = await github.paginate(github.rest.issues.listComments, {
    owner, repo, issue_number, per_page: 100,
  });
  const previous = comments.find((c) => c.body && c.body.includes(marker));
  if (previous) {
    await github.rest.issues.updateComment({ owner, repo, comment_id: previous.id, body: text });
    core.info(`Updated comment ${previous.id}`);
    return { action: 'updated', id: previous.id };
  }
  const { data } = await github.rest.issues.createComment({ owner, repo, issue_number, body: text });
  core.info(`Created comment ${data.id}`);
  return { action: 'created', id: data.id };
};
