/// Why `firstframe bench network` could not run or stopped, naming the stage and, for what is missing, what installs
/// it.
package enum NetworkBenchError: Error, Equatable, CustomStringConvertible {
    /// An option's value is out of range or unknown.
    case invalidOption(String)
    /// The rig needs root: network namespaces, iptables, port 53.
    case notRoot
    /// A program the rig runs is not installed: the program, its Debian package, the make target that installs it.
    case missingTool(program: String, package: String)
    /// A file the project builds is not there: what it is, where it was looked for, the make target that builds it.
    case notBuilt(what: String, path: String, makeTarget: String)
    /// The rig's scripts (`scripts/network-rig/`) were not found near the executable or the current directory.
    case scriptsNotFound(searched: [String])
    /// The kernel or the sandbox refused a network namespace.
    case namespacesNotAllowed(String)
    /// An iptables NFQUEUE rule inside a namespace was refused (the emulator receives packets through it).
    case nfqueueNotAllowed(String)
    /// `rig.py up` failed for a profile; its output is above on standard error, its logs in the run directory.
    case rigFailed(profile: String, status: Int32)
    /// `measure.py` failed for a profile.
    case measureFailed(profile: String, status: Int32)
    /// `table.py` failed, or a result file could not be read.
    case resultsUnreadable(String)
    /// SIGINT or SIGTERM stopped the run (the rig was torn down unless `--keep-up`).
    case interrupted

    package var description: String {
        switch self {
        case .invalidOption(let text):
            return text
        case .notRoot:
            return "preflight: the network bench needs root (network namespaces, iptables, port 53); run it with sudo"
        case .missingTool(let program, let package):
            return "preflight: \(program) not found; `make deps` installs it (Debian package \(package))"
        case .notBuilt(let what, let path, let makeTarget):
            return "preflight: \(what) not built at \(path); run `make \(makeTarget)`"
        case .scriptsNotFound(let searched):
            return "preflight: scripts/network-rig/rig.py not found under \(searched.joined(separator: ", ")); "
                + "run the bench from the repository (or pass --rig-scripts DIR)"
        case .namespacesNotAllowed(let detail):
            return "preflight: network namespaces are not allowed here (ip netns add: \(detail))"
        case .nfqueueNotAllowed(let detail):
            return "preflight: an iptables NFQUEUE rule is not allowed in a network namespace here (\(detail)); "
                + "the link emulator needs it"
        case .rigFailed(let profile, let status):
            return "rig up (\(profile)): rig.py exited with status \(status); its output is above"
        case .measureFailed(let profile, let status):
            return "measure (\(profile)): measure.py exited with status \(status); its output is above"
        case .resultsUnreadable(let detail):
            return "results: \(detail)"
        case .interrupted:
            return "interrupted"
        }
    }
}
