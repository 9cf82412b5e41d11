public enum CohortCLI {}
