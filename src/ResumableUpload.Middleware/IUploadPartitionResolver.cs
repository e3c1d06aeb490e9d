using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ResumableUpload.Middleware;

/// <summary>
/// Decides which partition (owner scope) a request belongs to. Upload ids are only unique within a partition, so
/// one user can never read or append to another user's upload, even with the same id.
/// </summary>
public interface IUploadPartitionResolver
{
    /// <summary>Returns the request's partition, or <see langword="null"/> to refuse the request with 403.</summary>
    ValueTask<string?> ResolvePartitionAsync(HttpContext context);
}

/// <summary>
/// The default resolver: an authenticated user's partition is <c>user:</c> plus their
/// <see cref="ClaimTypes.NameIdentifier"/> (or <c>sub</c>, or the identity name); an authenticated user with none of
/// these is refused. Anonymous requests share <c>anonymous:</c> plus <see cref="ResumableUploadOptions.AnonymousPartition"/>.
/// </summary>
internal sealed class DefaultUploadPartitionResolver(IOptionsMonitor<ResumableUploadOptions> options) : IUploadPartitionResolver
{
    public ValueTask<string?> ResolvePartitionAsync(HttpContext context)
    {
        var user = context.User;
        if (user.Identity?.IsAuthenticated == true)
        {
            var id = user.FindFirst(ClaimTypes.NameIdentifier)?.Value
                     ?? user.FindFirst("sub")?.Value
                     ?? user.Identity.Name;
            return ValueTask.FromResult(string.IsNullOrEmpty(id) ? null : "user:" + id);
        }

        return ValueTask.FromResult<string?>("anonymous:" + options.CurrentValue.AnonymousPartition);
    }
}
