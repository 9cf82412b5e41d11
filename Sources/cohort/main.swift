import CohortCLI
import Foundation

exit(CohortTool.main(Array(CommandLine.arguments.dropFirst())))
