using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ResumableUpload.Middleware.Diagnostics;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Engine;

namespace ResumableUpload.Middleware.Storage.FileSystem;

/// <summary>Maps engine keys to paths under the root: <c>state/ab/&lt;key&gt;.json</c> and <c>data/ab/&lt;key&gt;.bin</c>.</summary>
internal sealed class FileSystemPaths
{
    public FileSystemPaths(IOptions<FileSystemStoreOptions> options, ILogger<FileSystemPaths> logger, IHostEnvironment? environment = null)
    {
        var configured = options.Value.RootPath;
        var baseDirectory = environment?.ContentRootPath ?? Directory.GetCurrentDirectory();
        Root = Path.GetFullPath(Path.Combine(baseDirectory, configured));
        StateRoot = Path.Combine(Root, "state");
        DataRoot = Path.Combine(Root, "data");
        Log.FileSystemStoreRoot(logger, Root);
    }

    public string Root { get; }

    public string StateRoot { get; }

    public string DataRoot { get; }

    public string StatePath(string key) => Build(StateRoot, key, ".json");

    public string DataPath(string key) => Build(DataRoot, key, ".bin");

    private static string Build(string root, string key, string extension)
    {
        UploadKeys.ThrowIfInvalid(key);
        return Path.Combine(root, key[..2], key + extension);
    }
}
